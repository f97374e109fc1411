"""Mockingbird constellations: the list with the retention comparison, a constellation's page,
and the forms that start one, add and remove satellites, record what the hub home gave, change
the hub home and end it. The rules are in crm.services.mockingbird."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from crm.models import ConstellationActivityKind
from crm.services import carers as carers_service
from crm.services import mockingbird as service
from crm.services.errors import InvalidInput
from crm.web import db, state
from crm.web.auth import OVERSIGHT_ROLES, current_actor, has_role, roles_required
from crm.web.forms import GovDateField, merge_errors, options, saved
from funnel.mockingbird import load_retention_frames, retention_comparison

bp = Blueprint("mockingbird", __name__, url_prefix="/mockingbird")
SUPPORTING = sorted(service.SUPPORTING_ROLES)


def _today() -> date:
    return carers_service.today_local(state().settings)


class StartForm(FlaskForm):
    name = StringField(
        "Name of the constellation", widget=GovTextInput(), validators=[Length(max=100)]
    )
    hub_carer_id = SelectField("Hub home carer", widget=GovSelect(), validate_choice=False)
    started_on = GovDateField(
        "Started on", required_message="Enter the date it started", what="The start date"
    )
    submit = SubmitField("Start the constellation", widget=GovSubmitInput())


class SatelliteForm(FlaskForm):
    carer_id = SelectField("Satellite household", widget=GovSelect(), validate_choice=False)
    joined_on = GovDateField(
        "Joined on", required_message="Enter the date they joined", what="The date they joined"
    )
    submit = SubmitField("Add the household", widget=GovSubmitInput())


class LeaveForm(FlaskForm):
    left_on = GovDateField(
        "Left on", required_message="Enter the date they left", what="The date they left"
    )
    reason = TextAreaField("Why they left", widget=GovTextArea(), validators=[Length(max=500)])
    submit = SubmitField("Record that they left", widget=GovSubmitInput())


class ActivityForm(FlaskForm):
    kind = RadioField(
        "What the hub home gave",
        choices=options([(k.value, k.label) for k in ConstellationActivityKind]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose what the hub home gave")],
    )
    occurred_on = GovDateField(
        "When", required_message="Enter the date it happened", what="The date"
    )
    carer_id = SelectField(
        "For which satellite household (needed for a sleepover or short break)",
        widget=GovSelect(),
        validate_choice=False,
    )
    nights = StringField(
        "Nights (for a sleepover or short break)",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=3)],
    )
    notes = TextAreaField("Notes", widget=GovTextArea(), validators=[Length(max=2000)])
    submit = SubmitField("Record it", widget=GovSubmitInput())


class EndForm(FlaskForm):
    ended_on = GovDateField(
        "Ended on", required_message="Enter the date it ended", what="The end date"
    )
    submit = SubmitField("End the constellation", widget=GovSubmitInput())


class HubForm(FlaskForm):
    hub_carer_id = SelectField("New hub home carer", widget=GovSelect(), validate_choice=False)
    submit = SubmitField("Change the hub home", widget=GovSubmitInput())


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.get("")
@roles_required(*SUPPORTING)
def index():
    actor, today = current_actor(), _today()
    rows = service.list_constellations(db(), actor, today)
    start = today - timedelta(days=364)
    comparison = retention_comparison(
        load_retention_frames(db(), area_ids=service.retention_area_ids(actor)),
        start,
        today,
    )
    return render_template(
        "mockingbird/index.html",
        rows=rows,
        comparison=comparison.to_dict("records"),
        start=start,
        today=today,
        may_lead=has_role(*service.LEADING_ROLES),
        min_satellites=service.MIN_SATELLITES,
    )


def _form_page(form: FlaskForm, heading: str, back: str, caption: str = ""):  # noqa: ANN202
    return render_template(
        "mockingbird/form.html", form=form, heading=heading, back=back, caption=caption
    ), (400 if form.errors else 200)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def start():
    actor = current_actor()
    form = StartForm()
    form.hub_carer_id.choices = options(
        [("", "Choose a carer")]
        + [(str(i), name) for i, name in service.possible_satellites(db(), actor, None)]
    )
    started = []
    if saved(form, lambda: started.append(service.start_constellation(
        db(), actor, name=form.name.data or "", hub_carer_id=_int(form.hub_carer_id.data),
        started_on=form.started_on.data, today=_today(),
    )), "name"):  # fmt: skip
        flash(f"{started[0].name} started")
        return redirect(url_for("mockingbird.show", constellation_id=started[0].id))
    return _form_page(form, "Start a Mockingbird constellation", url_for("mockingbird.index"))


@bp.get("/<int:constellation_id>")
@roles_required(*SUPPORTING)
def show(constellation_id: int):
    view = service.constellation_view(db(), current_actor(), constellation_id)
    return render_template(
        "mockingbird/show.html",
        view=view,
        kinds=ConstellationActivityKind,
        may_lead=has_role(*service.LEADING_ROLES),
        min_satellites=service.MIN_SATELLITES,
        max_satellites=service.MAX_SATELLITES,
    )


@bp.route("/<int:constellation_id>/satellites", methods=["GET", "POST"])
@roles_required(*SUPPORTING)
def add_satellite(constellation_id: int):
    actor = current_actor()
    constellation = service.get_constellation(db(), actor, constellation_id)
    form = SatelliteForm()
    form.carer_id.choices = options(
        [("", "Choose a carer")]
        + [(str(i), n) for i, n in service.possible_satellites(db(), actor, constellation)]
    )
    if saved(form, lambda: service.add_satellite(
        db(), actor, constellation.id, carer_id=_int(form.carer_id.data),
        joined_on=form.joined_on.data, today=_today(),
    ), "carer_id"):  # fmt: skip
        flash("Satellite household added")
        return redirect(url_for("mockingbird.show", constellation_id=constellation.id))
    back = url_for("mockingbird.show", constellation_id=constellation.id)
    return _form_page(form, "Add a satellite household", back, constellation.name)


@bp.route("/members/<int:member_id>/leave", methods=["GET", "POST"])
@roles_required(*SUPPORTING)
def leave(member_id: int):
    from crm.models import ConstellationMember

    member = db().get(ConstellationMember, member_id)
    if member is None:
        return render_template("errors/404.html"), 404
    constellation = service.get_constellation(db(), current_actor(), member.constellation_id)
    form = LeaveForm()
    if saved(form, lambda: service.remove_satellite(
        db(), current_actor(), member.id, left_on=form.left_on.data,
        reason=form.reason.data or "", today=_today(),
    ), "reason"):  # fmt: skip
        flash("Recorded that the household left")
        return redirect(url_for("mockingbird.show", constellation_id=constellation.id))
    back = url_for("mockingbird.show", constellation_id=constellation.id)
    return _form_page(form, "A satellite household leaves", back, constellation.name)


@bp.route("/<int:constellation_id>/activities", methods=["GET", "POST"])
@roles_required(*SUPPORTING)
def record_activity(constellation_id: int):
    actor = current_actor()
    view = service.constellation_view(db(), actor, constellation_id)
    form = ActivityForm()
    form.carer_id.choices = options(
        [("", "The whole constellation")]
        + [(str(m.carer_id), m.name) for m in view.members if m.member.left_on is None]
    )
    if saved(form, lambda: service.record_activity(
        db(), actor, constellation_id, kind=form.kind.data or "",
        occurred_on=form.occurred_on.data, carer_id=_int(form.carer_id.data),
        nights=form.nights.data, notes=form.notes.data or "", today=_today(),
    ), "notes"):  # fmt: skip
        flash("Recorded")
        return redirect(url_for("mockingbird.show", constellation_id=constellation_id))
    back = url_for("mockingbird.show", constellation_id=constellation_id)
    return _form_page(form, "Record what the hub home gave", back, view.constellation.name)


@bp.route("/<int:constellation_id>/hub", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def change_hub(constellation_id: int):
    actor = current_actor()
    view = service.constellation_view(db(), actor, constellation_id)
    form = HubForm()
    candidates = service.possible_satellites(db(), actor, view.constellation)
    candidates += [(m.carer_id, m.name) for m in view.live_members]
    form.hub_carer_id.choices = options(
        [("", "Choose a carer")] + [(str(i), n) for i, n in candidates]
    )
    if form.is_submitted():
        try:
            service.change_hub(
                db(), actor, constellation_id, hub_carer_id=_int(form.hub_carer_id.data)
            )
        except InvalidInput as exc:
            merge_errors(form, exc.errors, "hub_carer_id")
        else:
            flash("Hub home changed")
            return redirect(url_for("mockingbird.show", constellation_id=constellation_id))
    back = url_for("mockingbird.show", constellation_id=constellation_id)
    return _form_page(form, "Change the hub home carer", back, view.constellation.name)


@bp.route("/<int:constellation_id>/end", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def end(constellation_id: int):
    actor = current_actor()
    constellation = service.get_constellation(db(), actor, constellation_id)
    form = EndForm()
    if saved(form, lambda: service.end_constellation(
        db(), actor, constellation.id, ended_on=form.ended_on.data, today=_today()
    ), "ended_on"):  # fmt: skip
        flash(f"{constellation.name} ended")
        return redirect(url_for("mockingbird.show", constellation_id=constellation.id))
    back = url_for("mockingbird.show", constellation_id=constellation.id)
    return _form_page(form, "End the constellation", back, constellation.name)
