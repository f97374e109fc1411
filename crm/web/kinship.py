"""A connected person's temporary approval (regulation 24): give, extend and end it from the
household page. The rules are in crm.services.kinship."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from crm import clock
from crm.models import Household
from crm.services import kinship as service
from crm.services.errors import NotFound
from crm.web import db, state
from crm.web.auth import OVERSIGHT_ROLES, current_actor, roles_required
from crm.web.forms import GovDateField, saved

bp = Blueprint("kinship", __name__, url_prefix="/households")


class GrantForm(FlaskForm):
    child_reference = StringField(
        "The child's reference",
        description="From the placing authority's case system. Never the child's name.",
        widget=GovTextInput(),
        validators=[Length(max=40)],
    )
    approved_on = GovDateField(
        "Temporarily approved on",
        required_message="Enter the date of the temporary approval",
        what="The date of the temporary approval",
        description="It lasts 16 weeks from this day, for example 27 3 2026",
    )
    submit = SubmitField("Record the temporary approval", widget=GovSubmitInput())


class ExtendForm(FlaskForm):
    until = GovDateField(
        "Extended until",
        required_message="Enter the date the extension runs to",
        what="The date the extension runs to",
        description="At most 8 weeks after it would end",
    )
    reason = TextAreaField(
        "Why the full assessment needs more time",
        widget=GovTextArea(),
        validators=[Length(max=500)],
    )
    submit = SubmitField("Extend", widget=GovSubmitInput())


class EndForm(FlaskForm):
    on = GovDateField("Ended on", required_message="Enter the date it ended", what="The date")
    reason = TextAreaField("Why it ended", widget=GovTextArea(), validators=[Length(max=500)])
    submit = SubmitField("End the temporary approval", widget=GovSubmitInput())


def _today() -> date:
    return clock.now().astimezone(state().settings.tz).date()


def _household(household_id: int) -> Household:
    household = db().get(Household, household_id)
    if household is None:
        raise NotFound(f"No household with id {household_id}")
    return household


def _page(form: FlaskForm, household: Household, heading: str):  # noqa: ANN202
    return render_template("households/action.html", form=form, h=household, heading=heading), (
        400 if form.errors else 200
    )


def _act(household_id: int, form: FlaskForm, heading: str, done: str, call) -> object:  # noqa: ANN001
    household = _household(household_id)
    if saved(form, lambda: call(household), next(iter(form._fields))):
        flash(done)
        return redirect(url_for("households.show", household_id=household.id))
    return _page(form, household, heading)


@bp.route("/<int:household_id>/temporary-approval", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def grant(household_id: int):
    form = GrantForm()
    return _act(
        household_id, form, "Temporary approval (regulation 24)", "Temporary approval recorded",
        lambda h: service.grant(
            db(), current_actor(), h.id, child_reference=form.child_reference.data or "",
            approved_on=form.approved_on.data, today=_today(),
        ),
    )  # fmt: skip


@bp.route("/<int:household_id>/temporary-approval/extend", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def extend(household_id: int):
    form = ExtendForm()
    return _act(
        household_id, form, "Extend the temporary approval", "Temporary approval extended",
        lambda h: service.extend(
            db(), current_actor(), h.id, until=form.until.data, reason=form.reason.data or "",
            today=_today(),
        ),
    )  # fmt: skip


@bp.route("/<int:household_id>/temporary-approval/end", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def end(household_id: int):
    form = EndForm()
    return _act(
        household_id, form, "End the temporary approval", "Temporary approval ended",
        lambda h: service.end(
            db(), current_actor(), h.id, on=form.on.data, reason=form.reason.data or "",
            today=_today(),
        ),
    )  # fmt: skip
