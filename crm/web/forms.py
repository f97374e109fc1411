"""WTForms for staff pages, rendered with the GOV.UK macros (govuk-frontend-wtf widgets).

Forms check the shape of input; the services check the rules. A service's InvalidInput is put
back on the form with `attach_errors`, so the page re-renders with an error summary and keeps
what was typed.
"""

from __future__ import annotations

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
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from crm.models import CallOutcome, TaskPriority


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated from WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class SafeGovDateInput(GovDateInput):
    """GOV.UK date input that also renders when the request left the fields out."""

    def map_gov_params(self, field, **kwargs):  # noqa: ANN001, ANN201
        if field.raw_data is not None and len(field.raw_data) != 3:
            field.raw_data = None
        return super().map_gov_params(field, **kwargs)


def attach_errors(form: FlaskForm, errors: dict[str, str], default: str) -> None:
    """Show a service's errors against the matching fields (or `default`)."""
    for key, message in errors.items():
        field = getattr(form, key) if key in form._fields else getattr(form, default)
        field.errors = [*field.errors, message]


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
        choices=options(
            [
                ("", "No preference"),
                ("email", "Email"),
                ("phone", "Telephone"),
                ("sms", "Text message"),
                ("telegram", "Telegram"),
                ("post", "Post"),
            ]
        ),
        widget=GovSelect(),
        validate_choice=False,
    )
    submit = SubmitField("Save details", widget=GovSubmitInput())


class ConsentForm(FlaskForm):
    scope = SelectField(
        "Consent for",
        choices=options(
            [
                ("store_details", "Keeping their details"),
                ("email", "Contact by email"),
                ("phone", "Contact by telephone"),
                ("sms", "Contact by text message"),
                ("telegram", "Contact by Telegram"),
                ("post", "Contact by post"),
            ]
        ),
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
    # The pipeline service decides which moves and reasons are right; the form only offers them.
    to_stage = SelectField(
        "Move to",
        widget=GovSelect(),
        validators=[InputRequired("Choose a stage")],
        validate_choice=False,
    )
    reason_code = SelectField(
        "Reason", widget=GovSelect(), validators=[Optional()], validate_choice=False
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
    due_on = DateField(
        "Due on",
        widget=SafeGovDateInput(),
        validators=[InputRequired("Enter the date the task is due")],
        format=["%d %m %Y", "%Y-%m-%d"],
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
    )
    location = StringField(
        "Where (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=200)]
    )
    submit = SubmitField("Book visit", widget=GovSubmitInput())


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
    "AssignForm",
    "CallForm",
    "CancelForm",
    "CheckboxListForm",
    "ConfirmForm",
    "MoveForm",
    "NoteForm",
    "NumberField",
    "NumberRange",
    "SlotChoiceForm",
    "TaskForm",
]
