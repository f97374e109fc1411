"""The national shape the demo histories follow (DOMAIN.md): how many get how far, how fast,
and why the rest stop; and the pass rates solved to give it."""

from __future__ import annotations

# How far back the histories go.
HISTORY_DAYS = 3 * 365
TRIAGE_SHARE = 0.04


# Targets for a cohort of enquiries whose outcomes are known (histories up to ~17 months).
TARGET_INITIAL_VISIT = 0.31


TARGET_APPLICATION = 0.12


TARGET_APPROVED = 0.055


# Source: (weight, multiplier on reaching an initial visit). Friends and carers bring people
# who convert better than social media; kinship referrals take their own pathway.
SOURCES: dict[str, tuple[float, float]] = {
    "web_search": (27, 0.95),
    "social_media": (22, 0.7),
    "council_website": (9, 1.05),
    "radio_tv": (3, 0.9),
    "print_poster": (4, 0.9),
    "event": (6, 1.1),
    "refer_a_friend": (6, 1.5),
    "word_of_mouth": (9, 1.3),
    "existing_carer": (4, 1.5),
    "kinship_referral": (2.2, 1.0),
    "transfer": (1.5, 2.0),
    "other": (2, 1.0),
}


KINSHIP_SOURCE = "kinship_referral"


# Working days until first contact: (probability, multiplier on reaching a visit). Faster
# responses convert better (the Leicestershire finding); None = never reached.
RESPONSE_DELAYS: tuple[tuple[int | None, float, float], ...] = (
    (0, 0.42, 1.15),
    (1, 0.30, 1.05),
    (2, 0.12, 0.90),
    (3, 0.07, 0.80),
    (5, 0.06, 0.60),  # 4 to 8 working days: late
    (None, 0.03, 0.0),
)


# Kinship / connected persons: 40% have an initial visit, then straight to assessment
# (stage one; the application is skipped) because a child already lives with them.
KINSHIP_VISIT = 0.4


KINSHIP_PASS = {
    "visit_to_iv": 0.9,
    "iv_to_stage_one": 0.75 / 0.9,
    "enquiry_to_stage_one": 0.75,
    "stage_one": 0.9,
    "stage_two": 0.85,
    "panel": 0.95,
}


# Regular pathway after the application; stage two is solved for below to hit the target.
APPLICATION_PASS = 0.97


STAGE_ONE_PASS = 0.72


PANEL_PASS = 0.93


# Pauses: share of households at these stages who go on hold, and how long (days).
HOLD_CHANCE = 0.08


HOLD_DAYS = (25, 110)


# Carers: yearly chance of deregistering, and of taking a break.
DEREGISTRATION_PER_YEAR = 0.10


ON_BREAK_SHARE = 0.06


# Stage durations, days from entering the stage to the next: (median, sigma, min, max).
DURATIONS = {
    "enquiry": (11, 0.5, 2, 75),  # from first contact to the initial visit
    "initial_visit": (27, 0.6, 4, 120),
    "application": (7, 0.5, 1, 30),
    "stage_one": (70, 0.35, 25, 130),
    "stage_two": (128, 0.3, 60, 220),
    "panel": (8, 0.3, 3, 21),
}


KINSHIP_DURATIONS = {
    "enquiry": (7, 0.5, 2, 30),
    "initial_visit": (5, 0.5, 1, 20),
    "stage_one": (30, 0.35, 10, 70),
    "stage_two": (60, 0.35, 25, 120),
    "panel": (7, 0.3, 3, 21),
}


# Leaving a stage: days after entering it, and the share leaving by the service's decision.
DROP_DAYS = {
    "enquiry": (16, 0.6, 3, 90),
    "initial_visit": (20, 0.6, 3, 120),
    "application": (10, 0.6, 1, 45),
    "stage_one": (40, 0.5, 7, 150),
    "stage_two": (75, 0.5, 14, 240),
    "panel": (8, 0.3, 2, 21),
}


NOT_PROGRESSED_SHARE = {
    "enquiry": 0.15,
    "initial_visit": 0.2,
    "application": 0.1,
    "stage_one": 0.55,
    "stage_two": 0.35,
    "panel": 0.9,
}


# Reason codes (config/lists.toml) with weights per stage, and the words staff wrote.
WITHDRAWN_REASONS = {
    "enquiry": {
        "no_response": 30,
        "timing": 20,
        "space": 14,
        "changed_mind": 12,
        "circumstances_changed": 8,
        "finances": 8,
        "family_not_supportive": 3,
        "other_service": 3,
        "other": 2,
    },
    "initial_visit": {
        "timing": 30,
        "circumstances_changed": 15,
        "changed_mind": 15,
        "space": 12,
        "finances": 10,
        "family_not_supportive": 8,
        "other_service": 5,
        "no_response": 3,
        "other": 2,
    },
    "application": {
        "timing": 30,
        "circumstances_changed": 25,
        "changed_mind": 20,
        "family_not_supportive": 10,
        "finances": 10,
        "other": 5,
    },
    "stage_one": {
        "circumstances_changed": 35,
        "timing": 25,
        "changed_mind": 15,
        "family_not_supportive": 10,
        "process_too_long": 10,
        "other": 5,
    },
    "stage_two": {
        "circumstances_changed": 30,
        "process_too_long": 20,
        "changed_mind": 20,
        "timing": 15,
        "family_not_supportive": 10,
        "other_service": 5,
    },
    "panel": {"circumstances_changed": 60, "changed_mind": 40},
    "on_hold": {"timing": 50, "circumstances_changed": 40, "changed_mind": 10},
}


NOT_PROGRESSED_REASONS = {
    "enquiry": {"eligibility": 35, "accommodation": 35, "capacity": 15, "other": 15},
    "initial_visit": {"accommodation": 40, "suitability": 35, "eligibility": 15, "other": 10},
    "application": {"eligibility": 40, "accommodation": 40, "capacity": 20},
    "stage_one": {"checks": 75, "suitability": 15, "accommodation": 5, "other": 5},
    "stage_two": {"suitability": 80, "checks": 10, "other": 10},
    "panel": {"suitability": 90, "other": 10},
}


ON_HOLD_REASONS = {
    "family_event": 35,
    "house_move": 25,
    "work": 20,
    "applicant_request": 15,
    "other": 5,
}


DEREGISTRATION_REASONS = {
    "personal_circumstances": 20,
    "unhappy_with_support": 16,
    "special_guardianship": 14,
    "health": 9,
    "burnout": 10,
    "transfer": 9,
    "retirement": 8,
    "adoption": 4,
    "allegation": 4,
    "other": 6,
}


REASON_TEXTS = {
    "no_response": [
        "Two calls and an email with no reply",
        "No reply to calls, texts or emails",
        "Left voicemails twice; no response",
    ],
    "timing": [
        "Want to wait until their youngest starts school",
        "Would like to come back to us next year",
        "Busy year at work; will get in touch again",
        "Caring for a parent at the moment",
    ],
    "circumstances_changed": [
        "New job with long hours",
        "Illness in the family",
        "Relationship has ended",
        "Expecting a baby",
        "Moving away from the area",
    ],
    "finances": [
        "Cannot manage on one income while fostering",
        "Worried the allowance would not cover giving up work",
    ],
    "space": [
        "No spare bedroom until their eldest leaves home",
        "Planning an extension first",
    ],
    "changed_mind": [
        "Decided fostering is not for them at the moment",
        "Would rather volunteer with children for now",
        "Thinking about adoption instead",
    ],
    "other_service": [
        "Chose an independent fostering agency",
        "Went to a neighbouring council",
    ],
    "family_not_supportive": ["Partner not ready", "Their own children are unsure"],
    "process_too_long": ["Assessment taking longer than they expected"],
    "other": ["Other reason given on the phone"],
    "checks": [
        "A reference raised concerns",
        "Medical advice against fostering at present",
        "DBS disclosure relevant to working with children",
    ],
    "suitability": [
        "Assessment found they could not meet a child's needs at present",
        "Panel did not recommend approval",
    ],
    "accommodation": [
        "No spare bedroom for a child",
        "Home safety concerns not resolved",
    ],
    "capacity": ["No assessing social worker free: referred to a partner agency"],
    "eligibility": ["Under 21", "No settled right to live in the UK yet"],
    "out_of_area": ["Lives outside the areas we serve: passed to their local fostering service"],
    "family_event": ["Bereavement in the family", "New baby due", "Illness in the family"],
    "house_move": ["Moving house; will carry on once settled"],
    "work": ["Busy period at work until the summer"],
    "applicant_request": ["Asked to pause for a few months"],
    "personal_circumstances": ["Relationship ended", "Moving abroad", "New caring duties"],
    "unhappy_with_support": [
        "Felt unsupported by the service",
        "No respite when it was needed",
    ],
    "special_guardianship": ["Special guardianship order granted for the child in placement"],
    "health": ["Health no longer allows fostering"],
    "burnout": ["Exhausted after a difficult placement; need a break from fostering"],
    "transfer": ["Transferred to an independent fostering agency"],
    "retirement": ["Retiring from fostering after many years"],
    "adoption": ["Adopting the child in placement"],
    "allegation": ["Approval ended after an allegation was investigated"],
}


def _calibration() -> dict[str, float]:
    """Solve the pass rates that give the national shape, from the mix of households.

    Households come as triage (never visited), kinship (their own pathway, above) or regular.
    For regular ones the chance of a visit is base x source multiplier x response multiplier;
    the later steps are plain rates. Solved so that the whole cohort hits the targets.
    """
    weights = {k: w for k, (w, _) in SOURCES.items()}
    total = sum(weights.values())
    kinship_share = (1 - TRIAGE_SHARE) * weights[KINSHIP_SOURCE] / total
    regular_share = (1 - TRIAGE_SHARE) - kinship_share
    regular_total = total - weights[KINSHIP_SOURCE]
    source_mean = (
        sum(w * SOURCES[k][1] for k, w in weights.items() if k != KINSHIP_SOURCE) / regular_total
    )
    response_mean = sum(p * m for _, p, m in RESPONSE_DELAYS)

    k = KINSHIP_PASS
    kin_stage_one = (
        KINSHIP_VISIT * k["visit_to_iv"] * k["iv_to_stage_one"]
        + (1 - KINSHIP_VISIT) * (k["enquiry_to_stage_one"])
    )
    kin_visit = KINSHIP_VISIT * k["visit_to_iv"] + (1 - KINSHIP_VISIT) * k["enquiry_to_stage_one"]
    kin_approved = kin_stage_one * k["stage_one"] * k["stage_two"] * k["panel"]

    regular_visit = (TARGET_INITIAL_VISIT - kinship_share * kin_visit) / regular_share
    regular_apply = (TARGET_APPLICATION - kinship_share * kin_stage_one) / regular_share
    regular_approved = (TARGET_APPROVED - kinship_share * kin_approved) / regular_share
    approved_of_applied = regular_approved / regular_apply
    return {
        "visit_base": regular_visit / (source_mean * response_mean),
        "apply_after_visit": regular_apply / regular_visit,
        "stage_two_pass": approved_of_applied / (APPLICATION_PASS * STAGE_ONE_PASS * PANEL_PASS),
    }


CALIBRATION = _calibration()
