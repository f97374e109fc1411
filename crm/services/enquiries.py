"""One way to create an enquiry, whichever door it came through.

The web form, staff typing in a phone call, the chat assistant and the tracker import all call
`create_enquiry`. It validates everything first (so bad input changes nothing), links a repeat
enquiry to the household we already have instead of creating a second, records consent, writes
the first stage event, and gives someone a task to call back within the response target.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.messaging.channels import consent_scope, contact_way
from crm.models import (
    Activity,
    ActivityKind,
    Applicant,
    Area,
    AreaPostcodeDistrict,
    AuditAction,
    Campaign,
    Channel,
    ChatConversation,
    Consent,
    ConsentScope,
    EnquiryChannel,
    Household,
    Role,
    Source,
    StaffArea,
    StaffUser,
    Stage,
    StageEvent,
    Task,
    TaskKind,
)
from crm.services import audit, safeguarding
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.validation import (
    normalise_email,
    normalise_phone,
    normalise_postcode,
    postcode_district,
)
from crm.settings import Settings
from crm.workdays import add_office_days

# Doors the public uses themselves: they must agree to us keeping their details first. (Staff
# record consent from a call; imports carry history from before this system.)
PUBLIC_CHANNELS = frozenset(
    {EnquiryChannel.WEB_FORM, EnquiryChannel.TELEGRAM, EnquiryChannel.WEBCHAT}
)
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on the phone


@dataclass
class ApplicantDetails:
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None


@dataclass
class EnquiryInput:
    """What we know about a new enquirer. Only the first applicant's name and one way to
    contact them are required; everything else can be filled in later."""

    applicant: ApplicantDetails
    enquiry_channel: EnquiryChannel
    second_applicant: ApplicantDetails | None = None
    postcode: str | None = None
    # Normally the postcode decides the area; imports and staff may name it instead.
    area_name: str | None = None
    address_line_1: str | None = None
    address_line_2: str | None = None
    town: str | None = None
    preferred_channel: Channel | None = None
    source_key: str | None = None
    campaign_name: str | None = None
    referrer_reference: str | None = None
    referrer_name: str | None = None
    interests: str | None = None
    is_kinship: bool = False
    # What the person agreed to, in the words they saw: scope -> wording.
    consents: dict[ConsentScope, str] = field(default_factory=dict)
    # For imports of history; a new enquiry happens now.
    enquired_at: datetime | None = None
    first_contact_at: datetime | None = None
    reference: str | None = None
    # The chat with the assistant the enquiry came from: concerns raised in it before the
    # person gave their details join the new household (crm.services.safeguarding).
    conversation_id: int | None = None


@dataclass
class EnquiryResult:
    household: Household
    created: bool
    response_task: Task | None


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value[:limit] if value else None


def check_applicant(
    prefix: str, details: ApplicantDetails, errors: dict[str, str], contact_required: bool
) -> ApplicantDetails:
    """Tidy and check one applicant; problems go into `errors` under `prefix` + field."""
    first = _clean(details.first_name, 100)
    last = _clean(details.last_name, 100)
    if not first:
        errors[f"{prefix}first_name"] = "Enter a first name"
    if not last:
        errors[f"{prefix}last_name"] = "Enter a last name"
    email = phone = None
    if details.email and details.email.strip():
        try:
            email = normalise_email(details.email)
        except ValueError as exc:
            errors[f"{prefix}email"] = str(exc)
    if details.phone and details.phone.strip():
        try:
            phone = normalise_phone(details.phone)
        except ValueError as exc:
            errors[f"{prefix}phone"] = str(exc)
    has_contact = bool(
        (details.email and details.email.strip()) or (details.phone and details.phone.strip())
    )
    if contact_required and not has_contact:
        errors[f"{prefix}email"] = "Enter an email address or a telephone number"
    dob = details.date_of_birth
    if dob is not None and not (date(1900, 1, 1) <= dob <= clock.now().date()):
        errors[f"{prefix}date_of_birth"] = "Date of birth must be a real date in the past"
    return ApplicantDetails(first or "", last or "", email, phone, dob)


def validate_enquiry(session: Session, data: EnquiryInput) -> tuple[EnquiryInput, dict]:
    """Check and normalise everything; return the cleaned input and resolved references."""
    errors: dict[str, str] = {}
    first = check_applicant("", data.applicant, errors, contact_required=True)
    second = None
    if data.second_applicant is not None:
        second = check_applicant("second_", data.second_applicant, errors, False)

    postcode = None
    if data.postcode and data.postcode.strip():
        try:
            postcode = normalise_postcode(data.postcode)
        except ValueError as exc:
            errors["postcode"] = str(exc)

    resolved: dict = {
        "source_key": None,
        "campaign_id": None,
        "referrer_id": None,
        "area_id": None,
    }
    if data.area_name and data.area_name.strip():
        area_id = session.exec(select(Area.id).where(Area.name == data.area_name.strip())).first()
        if area_id is None:
            errors["area_name"] = f"Unknown area {data.area_name.strip()!r}"
        resolved["area_id"] = area_id
    if data.source_key:
        source = session.get(Source, data.source_key)
        if source is None or not source.active:
            errors["source_key"] = f"Unknown source {data.source_key!r}"
        else:
            resolved["source_key"] = source.key
    if data.campaign_name and data.campaign_name.strip():
        campaign = session.exec(
            select(Campaign).where(Campaign.name == data.campaign_name.strip())
        ).first()
        if campaign is None:
            errors["campaign_name"] = f"Unknown campaign {data.campaign_name.strip()!r}"
        else:
            resolved["campaign_id"] = campaign.id
    if data.referrer_reference and data.referrer_reference.strip():
        referrer = session.exec(
            select(Household.id).where(Household.reference == data.referrer_reference.strip())
        ).first()
        if referrer is None:
            errors["referrer_reference"] = "No household has that reference"
        else:
            resolved["referrer_id"] = referrer

    now = clock.now()
    for name in ("enquired_at", "first_contact_at"):
        moment = getattr(data, name)
        if moment is not None and (moment.tzinfo is None or moment > now):
            errors[name] = "Must be a timezone-aware time that is not in the future"
    if (
        data.enquired_at
        and data.first_contact_at
        and data.first_contact_at.tzinfo
        and data.enquired_at.tzinfo
        and data.first_contact_at < data.enquired_at
    ):
        errors["first_contact_at"] = "First contact cannot be before the enquiry"
    if data.reference is not None and not (1 <= len(data.reference.strip()) <= 40):
        errors["reference"] = "A reference must be 1 to 40 characters"
    if (
        data.conversation_id is not None
        and session.get(ChatConversation, data.conversation_id) is None
    ):
        errors["conversation_id"] = "No chat with the assistant has that id"
    if (
        EnquiryChannel(data.enquiry_channel) in PUBLIC_CHANNELS
        and ConsentScope.STORE_DETAILS not in data.consents
    ):
        errors["consent"] = "We need your agreement to keep your details to take your enquiry"
    for scope, wording in data.consents.items():
        try:
            consent_scope(scope)
        except ValueError:
            errors[f"consent_{scope}"] = "That is not a consent we record"
        if not wording or not wording.strip():
            errors[f"consent_{scope}"] = "Consent must record the wording the person agreed to"
    if data.preferred_channel:
        try:
            contact_way(data.preferred_channel)
        except ValueError:
            errors["preferred_channel"] = "Choose how they prefer to be contacted"
    interests = _clean(data.interests, 2000)
    if errors:
        raise InvalidInput(errors)

    cleaned = EnquiryInput(
        applicant=first,
        second_applicant=second,
        enquiry_channel=EnquiryChannel(data.enquiry_channel),
        postcode=postcode,
        area_name=data.area_name,
        address_line_1=_clean(data.address_line_1, 200),
        address_line_2=_clean(data.address_line_2, 200),
        town=_clean(data.town, 100),
        preferred_channel=contact_way(data.preferred_channel) if data.preferred_channel else None,
        source_key=resolved["source_key"],
        campaign_name=data.campaign_name,
        referrer_reference=data.referrer_reference,
        referrer_name=_clean(data.referrer_name, 200),
        interests=interests,
        is_kinship=data.is_kinship,
        consents={consent_scope(k): v.strip() for k, v in data.consents.items()},
        enquired_at=data.enquired_at,
        first_contact_at=data.first_contact_at,
        reference=data.reference.strip() if data.reference else None,
        conversation_id=data.conversation_id,
    )
    return cleaned, resolved


def find_existing_household(
    session: Session, emails: list[str], phones: list[str]
) -> Household | None:
    """The household one of these applicants already belongs to, if any (anonymised ones are
    gone for good and never matched)."""
    conditions = []
    if emails:
        conditions.append(Applicant.email.in_(emails))
    if phones:
        conditions.append(Applicant.phone.in_(phones))
    if not conditions:
        return None
    return session.exec(
        select(Household)
        .join(Applicant, Applicant.household_id == Household.id)
        .where(sa.or_(*conditions), Household.anonymised_at.is_(None))
        .order_by(Household.enquired_at.desc())
    ).first()


def area_for_postcode(session: Session, postcode: str | None) -> int | None:
    if not postcode:
        return None
    return session.exec(
        select(AreaPostcodeDistrict.area_id).where(
            AreaPostcodeDistrict.district == postcode_district(postcode)
        )
    ).first()


def least_busy_officer(session: Session, area_id: int | None) -> int | None:
    """The area's recruitment officer with the fewest households still at enquiry."""
    if area_id is None:
        return None
    open_enquiries = (
        select(sa.func.count(Household.id))
        .where(Household.assigned_officer_id == StaffUser.id, Household.stage == Stage.ENQUIRY)
        .correlate(StaffUser)
        .scalar_subquery()
    )
    return session.exec(
        select(StaffUser.id)
        .join(StaffArea, StaffArea.staff_id == StaffUser.id)
        .where(
            StaffArea.area_id == area_id,
            StaffUser.role == Role.RECRUITMENT_OFFICER,
            StaffUser.active.is_(True),
        )
        .order_by(open_enquiries, StaffUser.id)
    ).first()


def new_reference(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        reference = f"FC-{code[:4]}-{code[4:]}"
        if (
            session.exec(select(Household.id).where(Household.reference == reference)).first()
            is None
        ):
            return reference


def response_due(settings: Settings, enquired_at: datetime) -> datetime:
    return add_office_days(
        enquired_at,
        settings.response.target_working_days,
        settings.tz,
        settings.service.office_hours_start,
        settings.service.office_hours_end,
    )


def _record_consents(
    session: Session, actor: Actor, household_id: int, consents: dict, via: str
) -> None:
    for scope, wording in consents.items():
        session.add(
            Consent(
                household_id=household_id,
                scope=scope,
                granted=True,
                wording=wording,
                via=via,
                recorded_by_id=actor.user_id,
            )
        )


def _open_response_task(session: Session, household_id: int) -> Task | None:
    return session.exec(
        select(Task).where(
            Task.household_id == household_id,
            Task.kind.in_([TaskKind.RESPOND_TO_ENQUIRY, TaskKind.SECOND_ATTEMPT]),
            Task.done_at.is_(None),
        )
    ).first()


def create_enquiry(
    session: Session, actor: Actor, data: EnquiryInput, settings: Settings
) -> EnquiryResult:
    """Create a household at `enquiry` (or link to the one we have) in one transaction."""
    data, resolved = validate_enquiry(session, data)
    applicants = [a for a in (data.applicant, data.second_applicant) if a is not None]
    emails = [a.email for a in applicants if a.email]
    phones = [a.phone for a in applicants if a.phone]
    now = clock.now()
    enquired_at = data.enquired_at or now
    via = data.enquiry_channel.value

    with transaction(session):
        existing = find_existing_household(session, emails, phones)
        if existing is not None:
            if not actor.may_work_on(existing.area_id):
                raise NotAllowed(
                    "This person is already known to another area's team: ask the hub to "
                    "pass the enquiry on"
                )
            return _link_repeat_enquiry(session, actor, existing, data, settings, via, now)
        if (
            data.reference
            and session.exec(
                select(Household.id).where(Household.reference == data.reference)
            ).first()
        ):
            raise InvalidInput("A household with that reference already exists", "reference")

        area_id = resolved["area_id"] or area_for_postcode(session, data.postcode)
        officer_id = least_busy_officer(session, area_id)
        household = Household(
            reference=data.reference or new_reference(session),
            area_id=area_id,
            address_line_1=data.address_line_1,
            address_line_2=data.address_line_2,
            town=data.town,
            postcode=data.postcode,
            preferred_channel=data.preferred_channel,
            enquiry_channel=data.enquiry_channel,
            source_key=resolved["source_key"],
            campaign_id=resolved["campaign_id"],
            referrer_household_id=resolved["referrer_id"],
            referrer_name=data.referrer_name,
            interests=data.interests,
            is_kinship=data.is_kinship,
            assigned_officer_id=officer_id,
            stage=Stage.ENQUIRY,
            stage_entered_at=enquired_at,
            enquired_at=enquired_at,
            first_contact_at=data.first_contact_at,
        )
        session.add(household)
        session.flush()
        for position, details in enumerate(applicants, start=1):
            session.add(
                Applicant(
                    household_id=household.id,
                    position=position,
                    first_name=details.first_name,
                    last_name=details.last_name,
                    email=details.email,
                    phone=details.phone,
                    date_of_birth=details.date_of_birth,
                )
            )
        _record_consents(session, actor, household.id, data.consents, via)
        if data.conversation_id is not None:
            safeguarding.link_concerns(session, actor, data.conversation_id, household.id)
        session.add(
            StageEvent(
                household_id=household.id,
                from_stage=None,
                to_stage=Stage.ENQUIRY,
                occurred_at=enquired_at,
                actor_id=actor.user_id,
                actor_label=actor.label,
            )
        )
        task = None
        if data.first_contact_at is None:
            task = Task(
                kind=TaskKind.RESPOND_TO_ENQUIRY,
                title="Call back a new enquirer",
                household_id=household.id,
                owner_id=officer_id,
                area_id=area_id,
                due_at=response_due(settings, enquired_at),
                created_by_id=actor.user_id,
            )
            session.add(task)
        audit.record(session, actor, AuditAction.CREATE, "household", household.id, channel=via)
    session.refresh(household)
    return EnquiryResult(household=household, created=True, response_task=task)


def _link_repeat_enquiry(
    session: Session,
    actor: Actor,
    household: Household,
    data: EnquiryInput,
    settings: Settings,
    via: str,
    now: datetime,
) -> EnquiryResult:
    """The person is already on our books: note the new enquiry on their timeline, keep any
    new consent, and make sure someone is due to call them back."""
    session.add(
        Activity(
            household_id=household.id,
            kind=ActivityKind.REPEAT_ENQUIRY,
            occurred_at=now,
            actor_id=actor.user_id,
            actor_label=actor.label,
            summary=f"Enquired again ({via.replace('_', ' ')})",
            body=data.interests,
        )
    )
    if data.enquiry_channel not in PUBLIC_CHANNELS:
        # Staff and imports vouch for who the person is. From the public we cannot tell the
        # family from someone typing their email, so their consents are not attached.
        _record_consents(session, actor, household.id, data.consents, via)
    task = _open_response_task(session, household.id)
    if task is None and data.first_contact_at is None:
        task = Task(
            kind=TaskKind.RESPOND_TO_ENQUIRY,
            title="Call back: they enquired again",
            household_id=household.id,
            owner_id=household.assigned_officer_id,
            area_id=household.area_id,
            due_at=response_due(settings, now),
            created_by_id=actor.user_id,
        )
        session.add(task)
    household.updated_at = now
    session.add(household)
    audit.record(session, actor, AuditAction.UPDATE, "household", household.id, repeat_enquiry=via)
    session.flush()
    session.refresh(household)
    return EnquiryResult(household=household, created=False, response_task=task)


def add_enquiry_details(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    interests: str | None = None,
    source_key: str | None = None,
) -> Household:
    """Fill in what an enquirer told us after their enquiry was made (the chat asks how they
    heard about us, and what interests them, only once the visit is booked). Fills gaps only:
    what staff recorded is never overwritten from outside."""
    from crm.services.errors import NotFound

    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    errors: dict[str, str] = {}
    cleaned_interests = _clean(interests, 2000)
    if source_key:
        source = session.get(Source, source_key)
        if source is None or not source.active:
            errors["source_key"] = f"Unknown source {source_key!r}"
    if errors:
        raise InvalidInput(errors)
    changed = []
    with transaction(session):
        if cleaned_interests and not household.interests:
            household.interests = cleaned_interests
            changed.append("interests")
        if source_key and not household.source_key:
            household.source_key = source_key
            changed.append("source_key")
        if changed:
            household.updated_at = clock.now()
            session.add(household)
            audit.record(
                session, actor, AuditAction.UPDATE, "household", household.id, changed=changed
            )
    session.refresh(household)
    return household
