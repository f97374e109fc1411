"""Caseloads: my own, a member of the team's, the team view for managers; and deactivating
someone once their open work has gone to colleagues. Rules in crm.services.caseloads and
crm.services.staff."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from crm.models import StaffUser
from crm.services import caseloads as service
from crm.services import staff as staff_service
from crm.services.errors import InvalidInput, NotAllowed
from crm.web import db, state
from crm.web.auth import OVERSIGHT_ROLES, current_actor, login_required, roles_required
from crm.web.households import _int

bp = Blueprint("caseloads", __name__, url_prefix="/caseloads")


@bp.get("")
@login_required
def index():
    actor = current_actor()
    if actor.role not in service.TEAM_VIEW_ROLES:
        return redirect(url_for("caseloads.show", staff_id=actor.user_id))
    rows = service.team_caseloads(db(), actor, state().settings)
    return render_template("caseloads/index.html", rows=rows)


@bp.get("/<int:staff_id>")
@login_required
def show(staff_id: int):
    load = service.caseload(db(), current_actor(), state().settings, staff_id)
    return render_template(
        "caseloads/show.html",
        load=load,
        may_deactivate=load.staff.active
        and staff_service.may_deactivate(db(), current_actor(), load.staff) is None,
    )


@bp.route("/<int:staff_id>/deactivate", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def deactivate(staff_id: int):
    return _hand_over(staff_id, deactivating=True)


@bp.route("/<int:staff_id>/move", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def move(staff_id: int):
    return _hand_over(staff_id, deactivating=False)


def _hand_over(staff_id: int, *, deactivating: bool):
    staff = db().get(StaffUser, staff_id)
    if staff is None:
        abort(404)
    check = staff_service.may_deactivate if deactivating else staff_service.may_move_work
    refusal = check(db(), current_actor(), staff)
    if refusal:
        raise NotAllowed(refusal)
    errors: dict[str, str] = {}
    values = request.form
    if request.method == "POST":
        everything = _int(values.get("to_all"))
        to = {
            kind: _int(values.get(f"to_{kind}")) or everything for kind in staff_service.WORK_KINDS
        }
        hand_over = staff_service.deactivate_staff if deactivating else staff_service.move_work
        try:
            hand_over(db(), current_actor(), staff.id, to=to)
        except InvalidInput as exc:
            errors = exc.errors
        else:
            if deactivating:
                flash(f"{staff.name} is deactivated and their work has moved")
                return redirect(url_for("caseloads.index"))
            flash(f"{staff.name}'s work has moved")
            return redirect(url_for("caseloads.show", staff_id=staff.id))
    work = staff_service.open_work(db(), staff.id)
    return render_template(
        "caseloads/deactivate.html",
        staff=staff,
        work=work,
        words=staff_service.WORK_WORDS,
        kinds=[k for k in staff_service.WORK_KINDS if work.count(k)],
        colleagues=staff_service.colleagues(db(), staff),
        errors=errors,
        values=values,
        deactivating=deactivating,
    ), (400 if errors else 200)
