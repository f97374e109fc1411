"""A carer's breaks and leaving on the carer's record: start and end a break, record the
written notice (with the exit conversation, or that later), and withdraw a notice. The rules
are crm.services.leaving's; these pages ask for what it needs and show what it refused."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextArea
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from crm.models import Carer, Household
from crm.services import carers as carer_service
from crm.services import leaving as service
from crm.services.errors import InvalidInput
from crm.web import db
from crm.web.auth import CARER_ROLES, current_actor, roles_required
from crm.web.forms import GovDateField, attach_errors, options
from crm.web.households import _int

bp = Blueprint("leaving", __name__, url_prefix="/carers")

EXAMPLE_DATE = "For example 27 3 2026"


class BreakForm(FlaskForm):
    started_on = GovDateField(
        "When does the break start?", required_message="Enter the date the break starts",
        description=EXAMPLE_DATE,
    )  # fmt: skip
    reason = TextAreaField(
        "Why are they taking a break?", widget=GovTextArea(),
        validators=[Optional(), Length(max=500)],
    )  # fmt: skip
    expected_end_on = GovDateField(
        "When is the break expected to end?",
        required_message="Enter when the break is expected to end",
        description=EXAMPLE_DATE,
    )
    submit = SubmitField("Start the break", widget=GovSubmitInput())


class ResumeForm(FlaskForm):
    ended_on = GovDateField(
        "When did they resume fostering?",
        required_message="Enter the date the carer resumed fostering",
        description=EXAMPLE_DATE,
    )
    submit = SubmitField("Record that they resumed", widget=GovSubmitInput())


class ExitConversationFields(FlaskForm):
    exit_on = GovDateField("Date of the exit conversation", description=EXAMPLE_DATE)
    exit_by_id = SelectField("Who held it", widget=GovSelect(), validate_choice=False)
    exit_notes = TextAreaField(
        "What was said", widget=GovTextArea(), validators=[Optional(), Length(max=5000)]
    )
    exit_would_have_kept = TextAreaField(
        "What, in the carer's words, would have kept them fostering",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=5000)],
    )

    def conversation(self) -> service.ExitConversation:
        return service.ExitConversation(
            held_on=self.exit_on.data,
            held_by_id=_int(self.exit_by_id.data),
            notes=self.exit_notes.data,
            would_have_kept=self.exit_would_have_kept.data,
        )


class NoticeForm(ExitConversationFields):
    notice_given_on = GovDateField(
        "Date of the carer's written notice",
        required_message="Enter the date of the carer's written notice",
        description="Their approval ends 28 days after it. " + EXAMPLE_DATE,
    )
    reason_code = SelectField("Why are they leaving?", widget=GovSelect(), validate_choice=False)
    reason_text = TextAreaField(
        "In the carer's words (needed for 'Other')",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=2000)],
    )
    submit = SubmitField("Record the notice", widget=GovSubmitInput())

    # The notice first, then the exit conversation (optional here, it can come later).
    field_order = (
        "notice_given_on", "reason_code", "reason_text",
        "exit_on", "exit_by_id", "exit_notes", "exit_would_have_kept",
    )  # fmt: skip


class ExitConversationForm(ExitConversationFields):
    submit = SubmitField("Record the exit conversation", widget=GovSubmitInput())


class WithdrawForm(FlaskForm):
    withdrawn_on = GovDateField(
        "When did the carer withdraw their notice?",
        required_message="Enter the date the carer withdrew their notice",
        description=EXAMPLE_DATE,
    )
    withdrawn_reason = TextAreaField(
        "Why are they staying?", widget=GovTextArea(), validators=[Optional(), Length(max=500)]
    )
    submit = SubmitField("Withdraw the notice", widget=GovSubmitInput())


def _carer(carer_id: int) -> tuple[Carer, Household]:
    return carer_service.get_carer(db(), current_actor(), carer_id)


def _page(form: FlaskForm, carer: Carer, household: Household, heading: str, **extra):  # noqa: ANN003, ANN202
    fields = [form[name] for name in getattr(form, "field_order", ())] or [
        f for f in form if f.name not in ("csrf_token", "submit")
    ]
    return render_template(
        "leaving/form.html", form=form, fields=fields, carer=carer, h=household,
        heading=heading, **extra,
    ), (400 if form.errors else 200)  # fmt: skip


def _back(carer_id: int, message: str):  # noqa: ANN202
    flash(message)
    return redirect(url_for("carers.show", carer_id=carer_id))


def _held_by_choices(form: ExitConversationFields, household: Household) -> None:
    me = current_actor()
    people = [(str(s.id), s.name) for s in carer_service.supervisors(db(), household.area_id)]
    form.exit_by_id.choices = options(
        [("", "Me")] + [(value, name) for value, name in people if value != str(me.user_id)]
    )


@bp.route("/<int:carer_id>/break", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def start_break(carer_id: int):
    carer, household = _carer(carer_id)
    form = BreakForm()
    if form.validate_on_submit():
        try:
            service.start_break(
                db(), current_actor(), carer.id, started_on=form.started_on.data,
                reason=form.reason.data, expected_end_on=form.expected_end_on.data,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "started_on")
        else:
            return _back(carer.id, "On a break from fostering")
    return _page(form, carer, household, "Start a break from fostering")


@bp.route("/<int:carer_id>/break/end", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def end_break(carer_id: int):
    carer, household = _carer(carer_id)
    form = ResumeForm()
    if form.validate_on_submit():
        try:
            service.end_break(db(), current_actor(), carer.id, ended_on=form.ended_on.data)
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "ended_on")
        else:
            return _back(carer.id, "Back from a break")
    return _page(
        form, carer, household, "The carer resumed fostering",
        taken=service.open_break(db(), carer.id),
    )  # fmt: skip


@bp.route("/<int:carer_id>/notice", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def give_notice(carer_id: int):
    carer, household = _carer(carer_id)
    form = NoticeForm()
    form.reason_code.choices = options(
        [("", "Choose a reason")] + [(r.code, r.label) for r in service.reasons(db())]
    )
    _held_by_choices(form, household)
    if form.validate_on_submit():
        try:
            notice = service.give_notice(
                db(), current_actor(), carer.id, notice_given_on=form.notice_given_on.data,
                reason_code=form.reason_code.data, reason_text=form.reason_text.data,
                conversation=form.conversation(),
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "notice_given_on")
        else:
            if notice.approval_ended_on is not None:
                return _back(carer.id, "Notice recorded: the approval has ended")
            return _back(
                carer.id,
                f"Notice recorded: the approval ends on {notice.approval_ends_on:%-d %B %Y}",
            )
    return _page(form, carer, household, "Record the carer's notice")


@bp.route("/<int:carer_id>/exit-conversation", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def exit_conversation(carer_id: int):
    carer, household = _carer(carer_id)
    form = ExitConversationForm()
    _held_by_choices(form, household)
    if form.validate_on_submit():
        try:
            service.record_exit_conversation(db(), current_actor(), carer.id, form.conversation())
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "exit_on")
        else:
            return _back(carer.id, "Exit conversation recorded")
    return _page(form, carer, household, "Record the exit conversation")


@bp.route("/<int:carer_id>/notice/withdraw", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def withdraw_notice(carer_id: int):
    carer, household = _carer(carer_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            service.withdraw_notice(
                db(), current_actor(), carer.id, withdrawn_on=form.withdrawn_on.data,
                reason=form.withdrawn_reason.data,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "withdrawn_on")
        else:
            return _back(carer.id, "Notice withdrawn: the carer stays approved")
    return _page(
        form, carer, household, "Withdraw the carer's notice",
        notice=service.live_notice(db(), carer.id),
    )  # fmt: skip
