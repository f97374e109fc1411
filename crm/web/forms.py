"""WTForms for staff pages, rendered with the GOV.UK macros (govuk-frontend-wtf widgets).

Forms check the shape of input; the services check the rules. A service's InvalidInput is put
back on the form with `attach_errors`, so the page re-renders with an error summary and keeps
what was typed.
"""

from __future__ import annotations

import contextlib
from calendar import month_abbr, month_name
from collections.abc import Callable, Sequence
from datetime import date

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovDateInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from crm import clock
from crm.messaging import channels
from crm.models import CallOutcome, ConsentScope, TaskPriority
from crm.services.errors import InvalidInput


def consent_choices() -> list[tuple[str, str]]:
    """Every consent staff may record, from the channel registry (a new channel's too)."""
    return [
        (
            scope.value,
            "Keeping their details"
            if scope == ConsentScope.STORE_DETAILS
            else f"Contact {channels.consent_by(scope)}",
        )
        for scope in channels.consent_scopes()
    ]


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated from WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class SafeGovDateInput(GovDateInput):
    """GOV.UK date input that also renders when the request left the fields out."""

    def map_gov_params(self, field, **kwargs):  # noqa: ANN001, ANN201
        if field.raw_data is not None and len(field.raw_data) != 3:
            field.raw_data = None
        return super().map_gov_params(field, **kwargs)


# -- dates: the GOV.UK date input (day, month, year) wherever a date is typed ---------------

_MONTHS = {
    **{name.lower(): n for n, name in enumerate(month_name) if name},
    **{name.lower(): n for n, name in enumerate(month_abbr) if name},
    "sept": 9,
}
_PARTS = ("day", "month", "year")


class DateMissing(ValueError):
    """Nothing was typed in any of the three boxes."""


def parse_date_parts(values: Sequence[str | None], what: str = "Date") -> date:
    """The date typed in a GOV.UK date input: [day, month, year] as posted (one name, three
    boxes). A single value in the ISO form (2026-03-17) is accepted too, for links and
    scripts. Problems raise ValueError in GOV.UK wording ('Date must be a real date')."""
    parts = [(v or "").strip() for v in values]
    if len(parts) == 1 and parts[0]:
        try:
            return date.fromisoformat(parts[0])
        except ValueError:
            raise ValueError(f"{what} must be a real date") from None
    if not any(parts):
        raise DateMissing(f"Enter the {what.lower()}")
    if len(parts) != 3:
        raise ValueError(f"{what} must be a real date")
    missing = [name for name, part in zip(_PARTS, parts, strict=True) if not part]
    if missing:
        raise ValueError(f"{what} must include a {' and '.join(missing)}")
    day_text, month_text, year_text = parts
    month = _MONTHS.get(month_text.lower())
    if month is None and month_text.isdigit():
        month = int(month_text)
    if not day_text.isdigit() or month is None or not year_text.isdigit():
        raise ValueError(f"{what} must be a real date")
    if len(year_text) != 4:
        raise ValueError("Year must include 4 numbers")
    try:
        return date(int(year_text), month, int(day_text))
    except ValueError:
        raise ValueError(f"{what} must be a real date") from None


class GovDateField(Field):
    """A date typed in the GOV.UK date input, with GOV.UK error messages. `what` names the
    date in messages ('Date must be a real date'); `required_message` is shown when nothing
    is typed (without it the date is optional)."""

    widget = SafeGovDateInput()

    def __init__(
        self,
        label: str | None = None,
        validators: list | None = None,
        *,
        what: str = "Date",
        required_message: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.what = what
        self.required_message = required_message

    def _value(self) -> str:
        return self.data.isoformat() if self.data else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        self.data = None
        with contextlib.suppress(DateMissing):  # nothing typed: required_message says so
            self.data = parse_date_parts(valuelist, self.what)

    def pre_validate(self, form) -> None:  # noqa: ANN001
        # A date that could not be read has its message already: nothing else to check.
        if self.process_errors:
            raise StopValidation()
        if self.data is None:
            raise StopValidation(self.required_message or "")


class NotInThePast:
    """Today (in London) or later."""

    def __call__(self, form, field) -> None:  # noqa: ANN001
        from crm.web import state

        today = clock.now().astimezone(state().settings.tz).date()
        if field.data is not None and field.data < today:
            what = getattr(field, "what", "Date")
            raise ValidationError(f"{what} must be today or in the future")


# A free time that was offered but is not free any more: someone else has just booked it.
TIME_TAKEN = "That time has just been taken. Choose one of the other free times."


def attach_errors(form: FlaskForm, errors: dict[str, str], default: str) -> None:
    """Show a service's errors against the matching fields (or `default`)."""
    for key, message in errors.items():
        field = getattr(form, key) if key in form._fields else getattr(form, default)
        field.errors = [*field.errors, message]


def saved(form: FlaskForm, save: Callable[[], object], default: str) -> bool:
    """Run a posted form through its service call: True once saved. The service is asked even
    when the form found problems, so that one round names every problem (the service checks
    everything the form does, and refuses what the form refused)."""
    if not form.is_submitted():
        return False
    form.validate()
    try:
        save()
    except InvalidInput as exc:
        merge_errors(form, exc.errors, default)
        return False
    return not form.errors


def merge_errors(form: FlaskForm, errors: dict[str, str], default: str) -> None:
    """A service's errors on the fields the form found nothing wrong with, so one round shows
    every problem (the form's own message comes first where both have one)."""
    fresh = {}
    for key, message in errors.items():
        field = form._fields.get(key)
        if field is None or not field.errors:
            fresh[key] = message
    attach_errors(form, fresh, default)


class StaffEnquiryForm(FlaskForm):
    first_name = StringField(
        "First name",
        widget=GovTextInput(),
        validators=[InputRequired("Enter a first name"), Length(max=100)],
    )
    last_name = StringField(
        "Last name",
        widget=GovTextInput(),
        validators=[InputRequired("Enter a last name"), Length(max=100)],
    )
    email = StringField(
        "Email address", widget=GovTextInput(), validators=[Optional(), Length(max=254)]
    )
    phone = StringField(
        "Telephone number", widget=GovTextInput(), validators=[Optional(), Length(max=40)]
    )
    postcode = StringField(
        "Postcode", widget=GovTextInput(), validators=[Optional(), Length(max=10)]
    )
    source_key = SelectField("How they heard about us", widget=GovSelect(), validate_choice=False)
    campaign_name = SelectField("Campaign", widget=GovSelect(), validate_choice=False)
    interests = TextAreaField(
        "What they are interested in",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=2000)],
    )
    is_kinship = BooleanField(
        "They already care for a child they know (kinship / connected person)",
        widget=GovCheckboxInput(),
    )
    consent = BooleanField(
        "They agreed that we may keep their details to answer their enquiry",
        widget=GovCheckboxInput(),
    )
    consent_how = SelectField(
        "How they agreed",
        choices=options(
            [("phone", "On the phone"), ("email", "By email"), ("in person", "In person")]
        ),
        widget=GovSelect(),
    )
    submit = SubmitField("Record enquiry", widget=GovSubmitInput())


class DetailsForm(FlaskForm):
    first_name = StringField(
        "First name", widget=GovTextInput(), validators=[Optional(), Length(max=100)]
    )
    last_name = StringField(
        "Last name", widget=GovTextInput(), validators=[Optional(), Length(max=100)]
    )
    email = StringField(
        "Email address", widget=GovTextInput(), validators=[Optional(), Length(max=254)]
    )
    phone = StringField(
        "Telephone number", widget=GovTextInput(), validators=[Optional(), Length(max=40)]
    )
    second_first_name = StringField(
        "First name", widget=GovTextInput(), validators=[Optional(), Length(max=100)]
    )
    second_last_name = StringField(
        "Last name", widget=GovTextInput(), validators=[Optional(), Length(max=100)]
    )
    second_email = StringField(
        "Email address", widget=GovTextInput(), validators=[Optional(), Length(max=254)]
    )
    second_phone = StringField(
        "Telephone number", widget=GovTextInput(), validators=[Optional(), Length(max=40)]
    )
    address_line_1 = StringField(
        "Address line 1", widget=GovTextInput(), validators=[Optional(), Length(max=200)]
    )
    address_line_2 = StringField(
        "Address line 2 (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=200)]
    )
    town = StringField(
        "Town or city", widget=GovTextInput(), validators=[Optional(), Length(max=100)]
    )
    postcode = StringField(
        "Postcode", widget=GovTextInput(), validators=[Optional(), Length(max=10)]
    )
    preferred_channel = SelectField(
        "Prefers to be contacted by",
        choices=lambda: options(
            [("", "No preference")] + [(w.channel.value, w.label) for w in channels.ways()]
        ),
        widget=GovSelect(),
        validate_choice=False,
    )
    submit = SubmitField("Save details", widget=GovSubmitInput())


class ConsentForm(FlaskForm):
    scope = SelectField(
        "Consent for",
        choices=lambda: options(consent_choices()),
        widget=GovSelect(),
    )
    granted = RadioField(
        "Did they give or withdraw consent?",
        choices=options([("yes", "Gave consent"), ("no", "Withdrew consent")]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose whether they gave or withdrew consent")],
    )
    wording = TextAreaField(
        "What they agreed to, or how they withdrew",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=2000)],
    )
    submit = SubmitField("Record consent", widget=GovSubmitInput())


class NoteForm(FlaskForm):
    summary = StringField(
        "Summary",
        widget=GovTextInput(),
        validators=[InputRequired("Enter a short summary"), Length(max=200)],
    )
    body = TextAreaField("Note", widget=GovTextArea(), validators=[Optional(), Length(max=10_000)])
    submit = SubmitField("Save note", widget=GovSubmitInput())


class CallForm(FlaskForm):
    call_outcome = RadioField(
        "How did the call go?",
        choices=options([(o.value, o.value.replace("_", " ").capitalize()) for o in CallOutcome]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose how the call went")],
    )
    summary = StringField(
        "Summary",
        widget=GovTextInput(),
        validators=[InputRequired("Enter a short summary"), Length(max=200)],
    )
    body = TextAreaField(
        "Notes (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=10_000)]
    )
    submit = SubmitField("Log call", widget=GovSubmitInput())


class MoveForm(FlaskForm):
    # The pipeline service decides which moves and reasons are right; the form only offers
    # them: each stage that takes a reason from a list reveals its own list (GOV.UK radios
    # with conditional reveals; without JavaScript every list shows under its stage).
    to_stage = RadioField(
        "Move to",
        widget=GovRadioInput(),
        validators=[InputRequired("Choose a stage")],
        validate_choice=False,
    )
    reason_withdrawn = SelectField(
        "Why are they withdrawing?", widget=GovSelect(), validate_choice=False
    )
    reason_not_progressed = SelectField(
        "Why are we not progressing it?", widget=GovSelect(), validate_choice=False
    )
    reason_on_hold = SelectField(
        "Why is it on hold? (optional)", widget=GovSelect(), validate_choice=False
    )
    reason_deregistered = SelectField(
        "Why are they deregistering?", widget=GovSelect(), validate_choice=False
    )
    reason_text = TextAreaField(
        "Details (optional)",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=2000)],
    )
    reopen = BooleanField(
        "This is a reopen: the household goes back to an earlier stage or returns after leaving",
        widget=GovCheckboxInput(),
    )
    submit = SubmitField("Move household", widget=GovSubmitInput())

    @staticmethod
    def reason_field_name(kind: str) -> str:
        """The list of reasons for a kind of move (withdrawn, on_hold...)."""
        return f"reason_{kind}"

    def reason_field(self, kind: str | None) -> SelectField | None:
        return self._fields.get(self.reason_field_name(kind)) if kind else None


class AssignForm(FlaskForm):
    officer_id = SelectField(
        "Assigned to", widget=GovSelect(), validators=[Optional()], validate_choice=False
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class TaskForm(FlaskForm):
    title = StringField(
        "What needs doing",
        widget=GovTextInput(),
        validators=[InputRequired("Enter what needs doing"), Length(max=200)],
    )
    detail = TextAreaField(
        "Details (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=2000)]
    )
    due_on = GovDateField(
        "Due on",
        validators=[NotInThePast()],
        required_message="Enter the date the task is due",
        description="For example, 27 3 2026",
    )
    # The route offers only people who may be given the task; any other id is refused.
    owner_id = SelectField(
        "Who will do it",
        widget=GovSelect(),
        validators=[Optional()],
        invalid_choice_message="Choose who will do it from the list",
    )
    priority = RadioField(
        "Priority",
        choices=options([(p.value, p.value.capitalize()) for p in TaskPriority]),
        default=TaskPriority.NORMAL.value,
        widget=GovRadioInput(),
        validators=[InputRequired("Choose a priority")],
    )
    submit = SubmitField("Create task", widget=GovSubmitInput())


class SlotChoiceForm(FlaskForm):
    slot = RadioField(
        "Choose a free slot",
        widget=GovRadioInput(),
        validators=[InputRequired("Choose one of the free slots")],
        invalid_choice_message=TIME_TAKEN,
    )
    # Asked for visits at home (see households.book_visit), where it is needed.
    location = StringField(
        "Where (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=200)]
    )
    submit = SubmitField("Book visit", widget=GovSubmitInput())


class HomeVisitForm(SlotChoiceForm):
    """A visit at the household's home: we need the address (shown filled in to confirm)."""

    location = StringField(
        "Address of the visit",
        widget=GovTextInput(),
        validators=[
            InputRequired("Enter the address of the visit"),
            Length(max=200, message="Address must be 200 characters or fewer"),
        ],
        description="Check it with them: it goes in the calendar invite and the reminders",
    )


class CancelForm(FlaskForm):
    reason = TextAreaField(
        "Why is it cancelled?",
        widget=GovTextArea(),
        validators=[InputRequired("Say why the visit is cancelled"), Length(max=500)],
    )
    submit = SubmitField("Cancel visit", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    confirm = BooleanField("I confirm, knowing this cannot be undone", widget=GovCheckboxInput())
    reason = TextAreaField("Reason", widget=GovTextArea(), validators=[Optional(), Length(max=500)])
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class CheckboxListForm(FlaskForm):
    """A list of checkboxes (areas for a user, etc.)."""

    choices = SelectMultipleField("Choose", widget=GovCheckboxesInput(), validators=[Optional()])


class NumberField(IntegerField):
    pass


__all__ = [
    "TIME_TAKEN",
    "AssignForm",
    "CallForm",
    "CancelForm",
    "CheckboxListForm",
    "ConfirmForm",
    "GovDateField",
    "HomeVisitForm",
    "MoveForm",
    "NoteForm",
    "NumberField",
    "NotInThePast",
    "NumberRange",
    "SlotChoiceForm",
    "TaskForm",
    "merge_errors",
    "parse_date_parts",
]
