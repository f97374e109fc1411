"""The fostering panel: meetings, listing a household, the panel's recommendation, the agency
decision (for the decision maker), and the 8-month timescale list for managers. The rules are
crm.services.panel's; these routes only show and pass on what was typed."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms import TextAreaField as _TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from crm.models import (
    Decision,
    FosteringType,
    Household,
    Recommendation,
    Role,
    Specialism,
)
from crm.services import households as household_service
from crm.services import panel as service
from crm.services.errors import InvalidInput, NotAllowed
from crm.web import db, state
from crm.web.auth import current_actor, roles_required
from crm.web.filters import NAVIGATION, NavItem, humanise
from crm.web.forms import GovDateField, attach_errors, merge_errors, options

bp = Blueprint("panel", __name__, url_prefix="/panel")
PANEL_ROLES = (Role.ADMIN, Role.MANAGER, Role.DECISION_MAKER)
PANEL_ADMIN_ROLES = (Role.ADMIN, Role.MANAGER)
NAVIGATION.insert(
    len(NAVIGATION) - 3, NavItem("panel.index", "Panel", frozenset(PANEL_ROLES), "/panel")
)


# -- forms (the shape of input; the service checks the rules) --------------------------------


class MeetingForm(FlaskForm):
    meets_on = GovDateField(
        "Date the panel meets", what="Date the panel meets",
        required_message="Enter the date the panel meets",
    )  # fmt: skip
    chair = StringField("Chair", widget=GovTextInput(), validators=[Optional(), Length(max=120)])
    capacity = StringField("How many households can it consider?", widget=GovTextInput())
    submit = SubmitField("Set up the panel meeting", widget=GovSubmitInput())


class ListForm(FlaskForm):
    meeting_id = SelectField(
        "Panel meeting", widget=GovSelect(), validators=[InputRequired("Choose a panel meeting")],
        validate_choice=False,
    )  # fmt: skip
    submit = SubmitField("List for this panel", widget=GovSubmitInput())


def _type_choices() -> list:
    return options([(t.value, humanise(t.value)) for t in FosteringType])


def _specialism_choices() -> list:
    return options([(s.value, humanise(s.value)) for s in Specialism])


class TermsFields(FlaskForm):
    places = StringField("Number of children", widget=GovTextInput())
    age_min = StringField("Youngest age", widget=GovTextInput())
    age_max = StringField("Oldest age", widget=GovTextInput())
    fostering_types = SelectMultipleField(
        "Types of fostering", widget=GovCheckboxesInput(), validate_choice=False
    )
    specialisms = SelectMultipleField(
        "Specialisms (optional)", widget=GovCheckboxesInput(), validate_choice=False
    )

    def terms(self) -> service.TermsInput:
        return service.TermsInput(
            places=self.places.data,
            age_min=self.age_min.data,
            age_max=self.age_max.data,
            fostering_types=self.fostering_types.data or [],
            specialisms=self.specialisms.data or [],
        )

    def offer_choices(self) -> None:
        self.fostering_types.choices = _type_choices()
        self.specialisms.choices = _specialism_choices()


class RecommendationForm(TermsFields):
    recommendation = RadioField(
        "The panel's recommendation", widget=GovRadioInput(),
        choices=options([(r.value, r.label) for r in Recommendation]),
        validators=[InputRequired("Choose the panel's recommendation")], validate_choice=False,
    )  # fmt: skip
    notes = _TextAreaField(
        "Notes", widget=GovTextArea(), validators=[Optional(), Length(max=service.NOTES_LIMIT)]
    )
    submit = SubmitField("Record the recommendation", widget=GovSubmitInput())


class DecisionForm(TermsFields):
    decision = RadioField(
        "The agency decision", widget=GovRadioInput(),
        choices=options([(d.value, d.label) for d in Decision]),
        validators=[InputRequired("Choose the decision")], validate_choice=False,
    )  # fmt: skip
    supervising_social_worker_id = SelectField(
        "Supervising social worker", widget=GovSelect(), validate_choice=False
    )
    reason_code = SelectField("Reason for not approving", widget=GovSelect(), validate_choice=False)
    notes = _TextAreaField(
        "Reasons, in words for the applicants' letter",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=service.NOTES_LIMIT)],
    )
    submit = SubmitField("Record the decision", widget=GovSubmitInput())


class PapersForm(FlaskForm):
    submit = SubmitField("Papers sent", widget=GovSubmitInput())


# -- pages ---------------------------------------------------------------------------------


@bp.get("")
@roles_required(*PANEL_ROLES)
def index():
    actor = current_actor()
    rows = service.meetings(db(), actor)
    return render_template(
        "panel/index.html",
        rows=rows,
        decisions=service.decisions_waiting(db(), actor),
        may_run=service.may_run_panel(actor),
        may_decide=service.may_decide(actor),
    )


@bp.route("/meetings/new", methods=["GET", "POST"])
@roles_required(*PANEL_ADMIN_ROLES)
def new_meeting():
    form = MeetingForm()
    if form.validate_on_submit() or (request.method == "POST" and form.csrf_token.errors == []):
        try:
            made = service.create_meeting(
                db(), current_actor(), state().settings,
                meets_on=form.meets_on.data, chair=form.chair.data, capacity=form.capacity.data,
            )  # fmt: skip
        except InvalidInput as exc:
            merge_errors(form, exc.errors, "meets_on")
        else:
            flash("Panel meeting set up")
            return redirect(url_for("panel.meeting", meeting_id=made.id))
    return render_template(
        "panel/meeting_form.html",
        form=form,
        papers_days=state().settings.panel.papers_due_working_days,
    )


@bp.get("/meetings/<int:meeting_id>")
@roles_required(*PANEL_ROLES)
def meeting(meeting_id: int):
    actor = current_actor()
    view = service.meeting_view(db(), actor, state().settings, meeting_id)
    return render_template(
        "panel/meeting.html",
        view=view,
        papers=PapersForm(),
        may_run=service.may_run_panel(actor),
        may_decide=service.may_decide(actor),
    )


def _household(household_id: int) -> Household:
    household = household_service.get_household(db(), current_actor(), household_id)
    if household.anonymised_at is not None:
        raise NotAllowed("This household was anonymised")
    return household


@bp.route("/households/<int:household_id>/list", methods=["GET", "POST"])
@roles_required(*PANEL_ADMIN_ROLES)
def list_household(household_id: int):
    household = _household(household_id)
    form = ListForm()
    upcoming = service.meetings(db(), current_actor(), upcoming_only=True)
    form.meeting_id.choices = options(
        [("", "Choose a panel meeting")]
        + [
            (
                str(row.meeting.id),
                f"{row.meeting.meets_on.strftime('%-d %B %Y')}, chair {row.meeting.chair} "
                f"({row.places_left} place{'' if row.places_left == 1 else 's'} left)",
            )
            for row in upcoming
        ]
    )
    if form.validate_on_submit():
        try:
            service.list_household(
                db(), current_actor(), state().settings, form.meeting_id.data, household.id
            )
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "meeting_id")
        else:
            flash("Listed for panel")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template("panel/list.html", form=form, h=household, upcoming=upcoming)


@bp.post("/listings/<int:listing_id>/papers")
@roles_required(*PANEL_ADMIN_ROLES)
def papers(listing_id: int):
    listing, _household_row = service.get_listing(db(), current_actor(), listing_id)
    form = PapersForm()
    if form.validate_on_submit():
        try:
            service.mark_papers_sent(db(), current_actor(), listing.id)
        except InvalidInput as exc:
            flash(next(iter(exc.errors.values())), "error")
        else:
            flash("Papers marked as sent")
    return redirect(url_for("panel.meeting", meeting_id=listing.meeting_id))


@bp.route("/listings/<int:listing_id>/recommendation", methods=["GET", "POST"])
@roles_required(*PANEL_ADMIN_ROLES)
def recommendation(listing_id: int):
    listing, household = service.get_listing(db(), current_actor(), listing_id)
    meeting_row = service.get_meeting(db(), current_actor(), listing.meeting_id)
    form = RecommendationForm()
    form.offer_choices()
    if form.validate_on_submit():
        try:
            service.record_recommendation(
                db(), current_actor(), state().settings, listing.id,
                recommendation=form.recommendation.data,
                terms=form.terms() if form.recommendation.data == Recommendation.APPROVE else None,
                notes=form.notes.data,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "recommendation")
        else:
            flash("Recommendation recorded")
            return redirect(url_for("panel.meeting", meeting_id=listing.meeting_id))
    return render_template(
        "panel/recommendation.html", form=form, h=household, listing=listing, meeting=meeting_row
    )


@bp.route("/listings/<int:listing_id>/decision", methods=["GET", "POST"])
@roles_required(Role.DECISION_MAKER)
def decision(listing_id: int):
    actor = current_actor()
    listing, household = service.get_listing(db(), actor, listing_id)
    meeting_row = service.get_meeting(db(), actor, listing.meeting_id)
    form = DecisionForm()
    form.offer_choices()
    form.supervising_social_worker_id.choices = options(
        [("", "Choose a supervising social worker")]
        + [(str(s.id), s.name) for s in service.possible_supervisors(db(), household)]
    )
    form.reason_code.choices = options(
        [("", "Choose a reason")] + [(r.code, r.label) for r in service.not_approved_reasons(db())]
    )
    if request.method == "GET" and listing.recommendation == Recommendation.APPROVE:
        # The panel's recommended terms, to confirm or change.
        form.places.data = str(listing.recommended_places or "")
        form.age_min.data = (
            "" if listing.recommended_age_min is None else str(listing.recommended_age_min)
        )
        form.age_max.data = (
            "" if listing.recommended_age_max is None else str(listing.recommended_age_max)
        )
        form.fostering_types.data = list(listing.recommended_fostering_types)
        form.specialisms.data = list(listing.recommended_specialisms)
    if form.validate_on_submit():
        approving = form.decision.data == Decision.APPROVED
        try:
            service.record_decision(
                db(), actor, listing.id, decision=form.decision.data,
                terms=form.terms() if approving else None,
                supervising_social_worker_id=form.supervising_social_worker_id.data or None,
                reason_code=form.reason_code.data or None, notes=form.notes.data,
                settings=state().settings,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "decision")
        else:
            flash(f"Decision recorded: {Decision(form.decision.data).label.lower()}")
            return redirect(url_for("panel.index"))
    return render_template(
        "panel/decision.html",
        form=form,
        h=household,
        listing=listing,
        meeting=meeting_row,
        timescale=service.timescale(db(), state().settings, household),
    )


@bp.get("/timescales")
@roles_required(*PANEL_ADMIN_ROLES)
def timescales():
    at_risk_only = request.args.get("at_risk") == "1"
    rows = service.timescales(db(), current_actor(), state().settings, at_risk_only=at_risk_only)
    return render_template(
        "panel/timescales.html",
        rows=rows,
        at_risk_only=at_risk_only,
        at_risk_days=state().settings.panel.at_risk_days,
    )


# -- the household page's section ------------------------------------------------------------


@bp.app_context_processor
def _household_section() -> dict:
    def panel_section(household: Household) -> service.HouseholdPanel | None:
        """For panel/_household_section.html on the household page."""
        if household is None or household.anonymised_at is not None:
            return None
        try:
            return service.household_panel(db(), current_actor(), state().settings, household)
        except NotAllowed:
            return None

    return {"panel_section": panel_section}
