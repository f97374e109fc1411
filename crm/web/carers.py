"""Approved carers: the list, the record, the at-risk flag and the supervisor (breaks and
leaving: crm.web.leaving)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea
from wtforms import RadioField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from crm.models import CarerStatus
from crm.services import carers as service
from crm.services import leaving
from crm.services.errors import InvalidInput
from crm.web import db, state
from crm.web.auth import CARER_ROLES, OVERSIGHT_ROLES, current_actor, roles_required
from crm.web.forms import attach_errors, options
from crm.web.households import PAGE_ARGS, _int

bp = Blueprint("carers", __name__, url_prefix="/carers")


class AtRiskForm(FlaskForm):
    at_risk = RadioField(
        "Is this carer at risk of leaving?",
        choices=options([("yes", "Yes"), ("no", "No")]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose yes or no")],
    )
    reason = TextAreaField(
        "Why? (needed when yes)",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=500)],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class SupervisorForm(FlaskForm):
    staff_id = SelectField("Supervising social worker", widget=GovSelect(), validate_choice=False)
    submit = SubmitField("Save", widget=GovSubmitInput())


@bp.get("")
@roles_required(*CARER_ROLES)
def index():
    query = service.CarerQuery(
        status=request.args.get("status", "current"),
        at_risk=request.args.get("at_risk") == "1",
        supervisor_id=_int(request.args.get("supervisor")),
        q=request.args.get("q", "")[:200],
        page=_int(request.args.get("page")) or 1,
        after=request.args.get("after", "")[:40],
        before=request.args.get("before", "")[:40],
    )
    page = service.list_carers(db(), current_actor(), query)
    args = {k: v for k, v in request.args.items() if k not in PAGE_ARGS and v}
    return render_template(
        "carers/index.html",
        page=page,
        query=query,
        args=args,
        today=service.today_local(state().settings),
        supervisors=[(s.id, s.name) for s in service.supervisors(db(), None)],
        statuses=[("current", "Active or on a break"), ("all", "All, with deregistered")]
        + [(s.value, s.value.replace("_", " ").capitalize()) for s in CarerStatus],
    )


@bp.get("/<int:carer_id>")
@roles_required(*CARER_ROLES)
def show(carer_id: int):
    return _show(carer_id)


def _show(carer_id: int):  # noqa: ANN202
    """The carer's page (supervision visits, reviews and placements: crm.web.placements)."""
    view = service.carer_view(db(), current_actor(), carer_id)
    today = service.today_local(state().settings)
    return render_template(
        "carers/show.html",
        view=view,
        due=service.due_soon(view.carer, today),
        leaving=leaving.leaving_record(db(), current_actor(), carer_id),
    )


@bp.route("/<int:carer_id>/at-risk", methods=["GET", "POST"])
@roles_required(*CARER_ROLES)
def at_risk(carer_id: int):
    carer, household = service.get_carer(db(), current_actor(), carer_id)
    form = AtRiskForm()
    if form.validate_on_submit():
        try:
            service.set_at_risk(
                db(), current_actor(), carer.id,
                at_risk=form.at_risk.data == "yes", reason=form.reason.data,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "reason")
        else:
            flash("At-risk flag saved")
            return redirect(url_for("carers.show", carer_id=carer.id))
    return render_template(
        "carers/form.html", form=form, carer=carer, h=household, heading="At risk of leaving"
    )


@bp.route("/<int:carer_id>/supervisor", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def supervisor(carer_id: int):
    carer, household = service.get_carer(db(), current_actor(), carer_id)
    form = SupervisorForm()
    form.staff_id.choices = options(
        [("", "Nobody yet")]
        + [(str(s.id), s.name) for s in service.supervisors(db(), household.area_id)]
    )
    if request.method == "GET":
        form.staff_id.data = str(carer.supervising_social_worker_id or "")
    if form.validate_on_submit():
        try:
            service.assign_supervisor(db(), current_actor(), carer.id, _int(form.staff_id.data))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "staff_id")
        else:
            flash("Supervising social worker saved")
            return redirect(url_for("carers.show", carer_id=carer.id))
    return render_template(
        "carers/form.html", form=form, carer=carer, h=household,
        heading="Supervising social worker",
    )  # fmt: skip
