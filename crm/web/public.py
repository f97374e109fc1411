"""Public pages (no sign-in): the enquiry form, the thank-you page that offers an initial-visit
slot, and the privacy notice.

The booking link carries a signed, expiring token naming the household: nothing guessable, and
it is only given to the person who has just created that household (a repeat enquiry, which
could have been typed by anyone who knows someone's email, gets no link).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
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
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import select
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from crm import clock
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    ConsentScope,
    EnquiryChannel,
    FosteringType,
    Household,
    Source,
    Stage,
)
from crm.services.actors import Actor
from crm.services.appointments import slots_for_area
from crm.services.booking import book_initial_visit
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    create_enquiry,
    validate_enquiry,
)
from crm.services.errors import InvalidInput, NotFound, SlotTaken
from crm.web import db, state
from crm.web.filters import local_time
from crm.web.forms import TIME_TAKEN, options
from crm.web.ratelimit import limit

bp = Blueprint("public", __name__)

PUBLIC_ACTOR_LABEL = "public web form"
BOOKING_TOKEN_SALT = "initial-visit-booking"
BOOKING_TOKEN_MAX_AGE = 14 * 24 * 3600
ENQUIRIES_PER_IP_PER_HOUR = 10
PRIVACY_NOTICE_VERSION = "2026-03"
INTEREST_CHOICES = [
    (FosteringType.SHORT_TERM.value, "Short-term fostering"),
    (FosteringType.LONG_TERM.value, "Long-term fostering"),
    (FosteringType.SHORT_BREAKS.value, "Short breaks (respite)"),
    (FosteringType.EMERGENCY.value, "Emergency fostering"),
    (FosteringType.PARENT_AND_CHILD.value, "Parent and child"),
    ("teenagers", "Fostering teenagers"),
    ("sibling_groups", "Brothers and sisters together"),
    ("kinship", "I already care for a child I know (family and friends)"),
    ("not_sure", "I'm not sure yet"),
]


def store_details_wording(service_name: str) -> str:
    return (
        f"I agree that {service_name} may keep the details I have given, to answer my "
        f"enquiry about fostering, as described in the privacy notice "
        f"(version {PRIVACY_NOTICE_VERSION})."
    )


def contact_wording(service_name: str, channel: str) -> str:
    return f"{service_name} may contact me by {channel} about fostering."


class EnquiryForm(FlaskForm):
    first_name = StringField(
        "First name",
        widget=GovTextInput(),
        validators=[InputRequired("Enter your first name"), Length(max=100)],
    )
    last_name = StringField(
        "Last name",
        widget=GovTextInput(),
        validators=[InputRequired("Enter your last name"), Length(max=100)],
    )
    email = StringField(
        "Email address", widget=GovTextInput(), validators=[Optional(), Length(max=254)]
    )
    phone = StringField(
        "Telephone number", widget=GovTextInput(), validators=[Optional(), Length(max=40)]
    )
    postcode = StringField(
        "Postcode",
        widget=GovTextInput(),
        validators=[InputRequired("Enter your postcode"), Length(max=10)],
    )
    interests = SelectMultipleField(
        "What interests you about fostering?",
        choices=options(INTEREST_CHOICES),
        widget=GovCheckboxesInput(),
        validators=[Optional()],
    )
    more = TextAreaField(
        "Anything else you would like to tell us (optional)",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=1500, message="Use 1,500 characters or fewer")],
    )
    source_key = SelectField(
        "How did you hear about us?",
        widget=GovSelect(),
        validators=[InputRequired("Choose how you heard about us")],
    )
    # No Optional(): it would also wave through a value we never offered (a space, say),
    # because it clears the choice check's error when the value is blank.
    contact_by = SelectMultipleField(
        "How may we contact you?",
        choices=options([("email", "By email"), ("phone", "By telephone")]),
        widget=GovCheckboxesInput(),
        invalid_choice_message="Choose by email, by telephone, or both",
    )
    consent = BooleanField(
        "I have read the privacy notice and agree that you may keep my details to answer my "
        "enquiry",
        widget=GovCheckboxInput(),
        validators=[InputRequired("Tick the box to agree that we may keep your details")],
    )
    # A field people never see (hidden by CSS and from screen readers); scripts fill it in.
    website = StringField("Leave this empty", validators=[Optional()])
    submit = SubmitField("Send enquiry", widget=GovSubmitInput())


class SlotForm(FlaskForm):
    slot = RadioField(
        "Choose a time for your initial visit",
        widget=GovRadioInput(),
        validators=[InputRequired("Choose a time for your visit")],
        invalid_choice_message=TIME_TAKEN,
    )
    submit = SubmitField("Book this visit", widget=GovSubmitInput())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=BOOKING_TOKEN_SALT)


def booking_token(household_id: int) -> str:
    return _serializer().dumps({"h": household_id})


def household_for_token(token: str) -> Household:
    """The household a booking link was made for; 404 when forged, 410 when expired."""
    try:
        data = _serializer().loads(token, max_age=BOOKING_TOKEN_MAX_AGE)
    except SignatureExpired:
        abort(410)
    except BadSignature:
        abort(404)
    household = db().get(Household, data.get("h"))
    if household is None or household.anonymised_at is not None:
        abort(404)
    return household


@bp.route("/enquire", methods=["GET", "POST"])
def enquire():
    session = db()
    settings = state().settings
    form = EnquiryForm()
    sources = session.exec(select(Source).where(Source.active.is_(True)).order_by(Source.label))
    form.source_key.choices = options([("", "Choose")] + [(s.key, s.label) for s in sources])
    if request.method == "POST":
        valid = form.validate_on_submit()
        if valid and form.website.data:
            # A bot filled in the honeypot: look successful, keep nothing.
            return redirect(url_for("public.thank_you"))
        data = _enquiry_input(form, settings.service.name)
        try:
            # Every problem at once: the form's own and the service's, one message a field.
            validate_enquiry(session, data)
        except InvalidInput as exc:
            _attach_errors(form, {k: v for k, v in exc.errors.items() if not _has_error(form, k)})
            valid = False
        if valid:
            limit("enquiry", request.remote_addr, ENQUIRIES_PER_IP_PER_HOUR, 3600)
            try:
                result = create_enquiry(session, Actor.system(PUBLIC_ACTOR_LABEL), data, settings)
            except InvalidInput as exc:
                _attach_errors(form, exc.errors)
            else:
                if not result.created:
                    return redirect(url_for("public.thank_you"))
                token = booking_token(result.household.id)
                return redirect(url_for("public.thank_you", token=token))
    return render_template(
        "public/enquire.html",
        form=form,
        childrens_phone=settings.service.childrens_services_phone,
    )


def _enquiry_input(form: EnquiryForm, service_name: str) -> EnquiryInput:
    """What the person typed, as the enquiry service takes it (only offered choices)."""
    consents = {}
    if form.consent.data:
        consents[ConsentScope.STORE_DETAILS] = store_details_wording(service_name)
    offered = {choice.value for choice in form.contact_by.choices or []}
    for channel in form.contact_by.data or []:
        if channel in offered:
            consents[ConsentScope(channel)] = contact_wording(service_name, channel)
    labels = dict(INTEREST_CHOICES)
    interests = "; ".join(labels[v] for v in form.interests.data or [] if v in labels)
    if form.more.data and form.more.data.strip():
        interests = f"{interests}\n{form.more.data.strip()}" if interests else form.more.data
    return EnquiryInput(
        applicant=ApplicantDetails(
            form.first_name.data or "", form.last_name.data or "",
            email=form.email.data, phone=form.phone.data,
        ),
        enquiry_channel=EnquiryChannel.WEB_FORM,
        postcode=form.postcode.data,
        source_key=form.source_key.data or None,
        interests=interests or None,
        is_kinship="kinship" in (form.interests.data or []),
        consents=consents,
    )  # fmt: skip


def _has_error(form: FlaskForm, key: str) -> bool:
    field = form._fields.get(key)
    return bool(field is not None and field.errors)


def _attach_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    # The service names fields as the form does; anything else is shown against the email.
    for key, message in errors.items():
        field = getattr(form, key) if key in form._fields else form.email
        field.errors = [*field.errors, message]


def _visit_for(household_id: int) -> Appointment | None:
    return (
        db()
        .exec(
            select(Appointment)
            .where(
                Appointment.household_id == household_id,
                Appointment.kind == AppointmentKind.INITIAL_VISIT,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at > clock.now(),
            )
            .order_by(Appointment.starts_at)
        )
        .first()
    )


def _offered_slots(household: Household) -> dict[str, tuple[datetime, list[int]]]:
    """One choice per start time (whoever is free then), keyed by the value the form posts."""
    offered: dict[str, tuple[datetime, list[int]]] = {}
    for slot in slots_for_area(
        db(),
        state().settings,
        household.area_id,
        working_days=state().settings.response.offer_initial_visit_within_working_days + 5,
    ):
        key = slot.starts_at.strftime("%Y%m%dT%H%M%z")
        offered.setdefault(key, (slot.starts_at, []))[1].append(slot.staff_id)
    return offered


def _slot_options(offered: dict[str, tuple[datetime, list[int]]]) -> list:
    # "Tuesday 10 March at 9:30am": GOV.UK style, as on every page.
    return options([(key, local_time(starts, "%A %-d %B")) for key, (starts, _) in offered.items()])


@bp.get("/enquire/thank-you")
@bp.route("/enquire/thank-you/<token>", methods=["GET", "POST"])
def thank_you(token: str | None = None):
    if token is None:
        return render_template("public/thank_you.html", household=None)
    household = household_for_token(token)
    visit = _visit_for(household.id)
    bookable = Stage(household.stage) in (Stage.ENQUIRY, Stage.INITIAL_VISIT)
    form = SlotForm()
    offered = _offered_slots(household) if bookable and visit is None else {}
    form.slot.choices = _slot_options(offered)
    if visit is None and bookable and form.validate_on_submit():
        starts_at, staff_ids = offered[form.slot.data]
        error = None
        try:
            # Whoever offered for that time is still free gets it; confirmed in the same go.
            visit = book_initial_visit(
                db(), Actor.system(PUBLIC_ACTOR_LABEL), state().settings, household.id,
                starts_at, staff_ids=staff_ids, booked_via="web_form",
                notes="Booked by the enquirer on the web form",
            )  # fmt: skip
        except SlotTaken:
            error = TIME_TAKEN
        except (InvalidInput, NotFound) as exc:
            error = next(iter(exc.errors.values())) if isinstance(exc, InvalidInput) else None
        if visit is None:
            # Offer what is still free now, without the time that has just gone.
            form.slot.choices = _slot_options(_offered_slots(household))
            form.slot.errors = [error or TIME_TAKEN]
        else:
            return redirect(url_for("public.thank_you", token=token))
    return render_template(
        "public/thank_you.html",
        household=household,
        visit=visit,
        form=form,
        bookable=bookable,
    )


@bp.get("/privacy")
def privacy():
    return render_template(
        "public/privacy.html",
        retention_months=state().settings.retention.anonymise_closed_after_months,
        version=PRIVACY_NOTICE_VERSION,
    )
