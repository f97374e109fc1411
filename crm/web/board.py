"""The pipeline board: a column per stage with counts and the households waiting longest, with
a quick move on each card (moves that need a reason go to the move page)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from crm.models import Stage
from crm.services import households as service
from crm.services.errors import InvalidInput
from crm.services.pipeline import REASON_LISTS, move_stage
from crm.web import db, state
from crm.web.auth import RECRUITMENT_ROLES, current_actor, roles_required
from crm.web.households import _int, filter_choices

bp = Blueprint("board", __name__, url_prefix="/pipeline")
FILTERS = ("area", "officer", "source", "campaign", "pathway")


def _filters() -> dict[str, str]:
    return {k: request.values.get(k, "") for k in FILTERS if request.values.get(k)}


@bp.get("")
@roles_required(*RECRUITMENT_ROLES)
def board():
    filters = _filters()
    columns = service.board(
        db(),
        current_actor(),
        state().settings,
        area_id=_int(filters.get("area")),
        officer_id=_int(filters.get("officer")),
        source_key=filters.get("source", "")[:40],
        campaign_id=_int(filters.get("campaign")),
        pathway=filters.get("pathway", "") if filters.get("pathway") in service.PATHWAYS else "",
    )
    return render_template(
        "board/board.html",
        columns=columns,
        filters=filters,
        choices=filter_choices(),
        # Built once: url_for per card costs more than the card's database work.
        household_base=url_for("households.show", household_id=0).removesuffix("0"),
    )


@bp.post("/move")
@roles_required(*RECRUITMENT_ROLES)
def move():
    household_id = _int(request.form.get("household_id"))
    to_stage = request.form.get("to_stage", "")
    back = url_for("board.board", **_filters())
    if household_id is None or to_stage not in Stage._value2member_map_:
        flash("Choose a stage to move to", "error")
        return redirect(back)
    target = Stage(to_stage)
    if target in REASON_LISTS:
        # Leaving, pausing or deregistering needs a reason: ask for it on the move page.
        return redirect(
            url_for("households.move", household_id=household_id, to=target.value, back=back)
        )
    household = service.get_household(db(), current_actor(), household_id)
    try:
        move_stage(db(), current_actor(), household.id, target)
    except InvalidInput as exc:
        flash(f"{household.display_name}: {next(iter(exc.errors.values()))}", "error")
    else:
        flash(f"{household.display_name} moved to {target.label}")
    return redirect(back)
