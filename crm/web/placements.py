"""Keeping carers: placements (add, end, move), supervision visits, annual reviews, training
and the TSD standards, the overdue supervision list and utilisation. Routes are thin: the
rules are in crm.services.placements, .supervision and .reviews.

The carer's page (carers/show.html) includes this module's sections; `carer_support`, a
template global, gives them what they show, so the carer page's route stays as it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from crm.models import (
    AnnualReview,
    Carer,
    FosteringType,
    Placement,
    ReviewOutcome,
    SupervisionVisit,
    TrainingRecord,
)
from crm.services import carers as carer_service
from crm.services import placements as service
from crm.services import reviews, supervision
from crm.services.errors import InvalidInput
from crm.services.supervision import SupervisionStatus
from crm.web import db, state
from crm.web.auth import CARER_ROLES, current_actor, roles_required
from crm.web.forms import GovDateField, attach_errors, options

bp = Blueprint("keeping", __name__, url_prefix="/carers")

FOSTERING_TYPES = [(t.value, t.value.replace("_", " ").capitalize()) for t in FosteringType]
OUTCOMES = [
    (ReviewOutcome.APPROVAL_CONTINUES.value, "Approval continues"),
    (ReviewOutcome.CONTINUES_WITH_SUPPORT_PLAN.value, "Approval continues with a support plan"),
    (ReviewOutcome.REFERRED_TO_PANEL.value, "Referred to the fostering panel"),
]


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def _hours(text: str | None) -> float | None:
    try:
        return float((text or "").strip())
    except ValueError:
        return None


class PlacementForm(FlaskForm):
    child_reference = StringField(
        "Child's reference",
        description="From the children's case system. Not the child's name.",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=40)],
    )
    placing_authority = StringField(
        "Placing local authority", widget=GovTextInput(), validators=[Optional(), Length(max=200)]
    )
    fostering_type = SelectField(
        "Type of fostering", widget=GovSelect(), choices=options([("", "Choose a type")]
        + FOSTERING_TYPES), validate_choice=False,
    )  # fmt: skip
    emergency = RadioField(
        "Planned or emergency?",
        choices=options([("planned", "Planned"), ("emergency", "Emergency")]),
        widget=GovRadioInput(),
        default="planned",
    )
    child_age = StringField(
        "Child's age in years", widget=GovTextInput(), validators=[Optional(), Length(max=3)]
    )
    started_on = GovDateField(
        "Start date", required_message="Enter the date the placement started",
        description="For example 27 3 2026",
    )  # fmt: skip
    expected_end_on = GovDateField(
        "Expected end date (optional)", description="Leave blank if not known"
    )
    exemption_reason = TextAreaField(
        "Exemption: why this placement is agreed outside the approval terms",
        description="Only a fostering manager can agree one. Leave blank when the placement "
        "is within the terms.",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=500)],
    )
    submit = SubmitField("Add placement", widget=GovSubmitInput())


ENDINGS = [("planned", "Planned"), ("unplanned", "Unplanned")]


class EndForm(FlaskForm):
    ended_on = GovDateField("End date", required_message="Enter the date the placement ended")
    ending = RadioField(
        "Was the ending planned?", choices=options(ENDINGS), widget=GovRadioInput(),
        validators=[Optional()],
    )  # fmt: skip
    end_reason = TextAreaField(
        "Why did the placement end?", widget=GovTextArea(), validators=[Optional(), Length(max=500)]
    )
    submit = SubmitField("End placement", widget=GovSubmitInput())


class MovePlacementForm(FlaskForm):
    to_carer_id = SelectField("Moving to", widget=GovSelect(), validate_choice=False)
    moved_on = GovDateField("Date of the move", required_message="Enter the date the child moved")
    ending = RadioField(
        "Was the move planned?", choices=options(ENDINGS), widget=GovRadioInput(),
        validators=[Optional()],
    )  # fmt: skip
    end_reason = TextAreaField(
        "Why is the child moving?", widget=GovTextArea(), validators=[Optional(), Length(max=500)]
    )
    exemption_reason = TextAreaField(
        "Exemption, if the new carer's terms do not cover this child",
        description="Only a fostering manager can agree one.",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=500)],
    )
    submit = SubmitField("Move placement", widget=GovSubmitInput())


class VisitForm(FlaskForm):
    visited_on = GovDateField(
        "Date of the visit", required_message="Enter the date of the visit",
        description="For example 27 3 2026",
    )  # fmt: skip
    kind = RadioField(
        "Was the visit announced?",
        choices=options([("announced", "Announced"), ("unannounced", "Unannounced")]),
        widget=GovRadioInput(),
        validators=[Optional()],
    )
    notes = TextAreaField(
        "What the visit found", widget=GovTextArea(), validators=[Optional(), Length(max=5000)]
    )
    carer_raised = TextAreaField(
        "What the carer raised (optional)",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=5000)],
    )
    actions = TextAreaField(
        "Actions (optional)",
        description="One a line. Each becomes a task for the supervising social worker.",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=3000)],
    )
    submit = SubmitField("Record visit", widget=GovSubmitInput())


class ReviewForm(FlaskForm):
    reviewed_on = GovDateField(
        "Date of the review", required_message="Enter the date of the review"
    )
    outcome = RadioField(
        "Outcome", choices=options(OUTCOMES), widget=GovRadioInput(), validators=[Optional()]
    )
    places = StringField("Approved places", widget=GovTextInput(), validators=[Optional()])
    age_min = StringField("Youngest age", widget=GovTextInput(), validators=[Optional()])
    age_max = StringField("Oldest age", widget=GovTextInput(), validators=[Optional()])
    fostering_types = SelectMultipleField(
        "Types of fostering approved",
        choices=options(FOSTERING_TYPES),
        widget=GovCheckboxesInput(),
        validators=[Optional()],
    )
    notes = TextAreaField(
        "Notes (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=5000)]
    )
    submit = SubmitField("Record review", widget=GovSubmitInput())


class TrainingForm(FlaskForm):
    course = StringField("Course", widget=GovTextInput(), validators=[Optional(), Length(max=200)])
    completed_on = GovDateField(
        "Date completed", required_message="Enter the date the course was completed"
    )
    hours = StringField(
        "Hours", description="For example 3 or 1.5", widget=GovTextInput(),
        validators=[Optional(), Length(max=10)],
    )  # fmt: skip
    completes_tsd = BooleanField(
        "This completes the Training, Support and Development standards",
        widget=GovCheckboxInput(),
    )
    submit = SubmitField("Record training", widget=GovSubmitInput())


def _form_page(form: FlaskForm, carer: Carer, household, heading: str, **extra):  # noqa: ANN001, ANN003, ANN202
    return render_template(
        "placements/form.html", form=form, carer=carer, h=household, heading=heading, **extra
    ), (400 if form.errors else 200)


def _back(carer_id: int, message: str):  # noqa: ANN202
    flash(message)
    return redirect(url_for("carers.show", carer_id=carer_id))


@bp.route("/<int:carer_id>/placements/new", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def add_placement(carer_id: int):
    carer, household = carer_service.get_carer(db(), current_actor(), carer_id)
    form = PlacementForm()
    if form.validate_on_submit():
        data = service.PlacementInput(
            child_reference=form.child_reference.data or "",
            placing_authority=form.placing_authority.data or "",
            fostering_type=form.fostering_type.data or "",
            emergency=form.emergency.data == "emergency",
            started_on=form.started_on.data,
            child_age=_number(form.child_age.data),
            expected_end_on=form.expected_end_on.data,
            exemption_reason=form.exemption_reason.data or "",
        )
        try:
            service.add_placement(db(), current_actor(), carer.id, data)
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "child_reference")
        else:
            return _back(carer.id, "Placement added")
    capacity = service.capacity(db(), carer)
    return _form_page(form, carer, household, "Add a placement", capacity=capacity)


@bp.route("/placements/<int:placement_id>/end", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def end_placement(placement_id: int):
    placement, carer = service.get_placement(db(), current_actor(), placement_id)
    _, household = carer_service.get_carer(db(), current_actor(), carer.id)
    form = EndForm()
    if form.validate_on_submit():
        try:
            service.end_placement(
                db(), current_actor(), placement.id, ended_on=form.ended_on.data,
                reason=form.end_reason.data or "", ending=form.ending.data or "",
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "ended_on")
        else:
            return _back(carer.id, "Placement ended")
    return _form_page(form, carer, household, f"End the placement of {placement.child_reference}")


@bp.route("/placements/<int:placement_id>/move", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def move_placement(placement_id: int):
    actor = current_actor()
    placement, carer = service.get_placement(db(), actor, placement_id)
    _, household = carer_service.get_carer(db(), actor, carer.id)
    form = MovePlacementForm()
    form.to_carer_id.choices = options(
        [("", "Choose a carer")]
        + [(str(c.id), label) for c, label in service.carers_to_move_to(db(), actor, carer.id)]
    )
    if form.validate_on_submit():
        try:
            service.move_placement(
                db(), actor, placement.id, to_carer_id=_number(form.to_carer_id.data),
                moved_on=form.moved_on.data, reason=form.end_reason.data or "",
                ending=form.ending.data or "", exemption_reason=form.exemption_reason.data or "",
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "to_carer_id")
        else:
            return _back(carer.id, "Placement moved")
    return _form_page(form, carer, household, f"Move the placement of {placement.child_reference}")


@bp.route("/<int:carer_id>/supervision-visits/new", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def record_visit(carer_id: int):
    carer, household = carer_service.get_carer(db(), current_actor(), carer_id)
    form = VisitForm()
    if form.validate_on_submit():
        try:
            supervision.record_visit(
                db(), current_actor(), state().settings, carer.id,
                visited_on=form.visited_on.data, kind=form.kind.data or "",
                notes=form.notes.data, carer_raised=form.carer_raised.data,
                actions=(form.actions.data or "").splitlines(),
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "visited_on")
        else:
            return _back(carer.id, "Supervision visit recorded")
    return _form_page(form, carer, household, "Record a supervision visit")


@bp.route("/<int:carer_id>/reviews/new", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def record_review(carer_id: int):
    carer, household = carer_service.get_carer(db(), current_actor(), carer_id)
    form = ReviewForm()
    if request.method == "GET":
        form.places.data = str(carer.places)
        form.age_min.data = str(carer.age_min)
        form.age_max.data = str(carer.age_max)
        form.fostering_types.data = list(carer.fostering_types)
    if form.validate_on_submit():
        terms = reviews.Terms(
            _number(form.places.data), _number(form.age_min.data), _number(form.age_max.data),
            list(form.fostering_types.data or []),
        )  # fmt: skip
        try:
            review = reviews.record_review(
                db(), current_actor(), carer.id, reviewed_on=form.reviewed_on.data,
                outcome=form.outcome.data or "", notes=form.notes.data, terms=terms,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "reviewed_on")
        else:
            message = "Annual review recorded"
            if review.terms_changed:
                message += ": approval terms changed"
            if review.goes_to_panel:
                message += ". It goes to the fostering panel"
            return _back(carer.id, message)
    return _form_page(form, carer, household, "Record an annual review")


@bp.route("/<int:carer_id>/training/new", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def record_training(carer_id: int):
    carer, household = carer_service.get_carer(db(), current_actor(), carer_id)
    form = TrainingForm()
    if form.validate_on_submit():
        try:
            reviews.record_training(
                db(), current_actor(), carer.id, course=form.course.data or "",
                completed_on=form.completed_on.data, hours=_hours(form.hours.data),
                completes_tsd=bool(form.completes_tsd.data),
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "course")
        else:
            return _back(carer.id, "Training recorded")
    return _form_page(form, carer, household, "Record training")


@bp.get("/supervision-overdue")
@roles_required(*CARER_ROLES)
def supervision_overdue():
    rows = supervision.overdue_for_managers(db(), current_actor(), state().settings)
    return render_template(
        "placements/supervision_overdue.html",
        rows=rows,
        today=carer_service.today_local(state().settings),
        every=state().settings.reminders.supervision_overdue_days,
    )


@bp.get("/utilisation")
@roles_required(*CARER_ROLES)
def utilisation():
    rows, hub = service.utilisation(db(), current_actor(), days=7)
    return render_template("placements/utilisation.html", rows=rows, hub=hub)


# -- the carer page's sections ---------------------------------------------------------------


@dataclass
class CarerSupport:
    placements: list[Placement]
    visits: list[SupervisionVisit]
    status: SupervisionStatus
    reviews: list[AnnualReview]
    training: list[TrainingRecord]
    tsd_deadline: date
    today: date


@bp.app_template_global("carer_support")
def carer_support(carer: Carer) -> CarerSupport:
    # Several sections of one page ask: read once per request.
    cache = g.setdefault("carer_support", {})
    if carer.id not in cache:
        cache[carer.id] = _carer_support(carer)
    return cache[carer.id]


def _carer_support(carer: Carer) -> CarerSupport:
    actor, session, settings = current_actor(), db(), state().settings
    return CarerSupport(
        placements=service.placements_of(session, actor, carer.id),
        visits=supervision.visits_of(session, actor, carer.id),
        status=supervision.supervision_status(session, settings, carer),
        reviews=reviews.reviews_of(session, actor, carer.id),
        training=reviews.training_of(session, actor, carer.id),
        tsd_deadline=reviews.tsd_deadline(carer),
        today=carer_service.today_local(settings),
    )


@bp.app_template_global("places_filled_today")
def places_filled_today() -> tuple[list, object]:
    """Today's utilisation for the carers list's small table."""
    return service.utilisation(db(), current_actor(), days=1)


bp.add_app_template_global(service.share, "places_share")
