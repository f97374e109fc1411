"""Visits: a week view per person or for the team, and availability editing."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from crm import clock
from crm.models import StaffUser
from crm.services import availability as service
from crm.services.errors import InvalidInput
from crm.web import db, state
from crm.web.auth import current_actor, login_required
from crm.web.forms import DateMissing, parse_date_parts
from crm.web.households import _int

bp = Blueprint("visits", __name__, url_prefix="/visits")


def _monday(value: str | None) -> date:
    today = clock.now().astimezone(state().settings.tz).date()
    try:
        day = date.fromisoformat(value) if value else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


@bp.get("")
@login_required
def week():
    actor = current_actor()
    team = service.team_for(db(), actor)
    who = request.args.get("staff", "me")
    if who == "me" and all(s.id != actor.user_id for s in team):
        who = "team"  # admins keep no diary of their own
    if who == "team":
        staff = team
    else:
        staff_id = _int(who) or actor.user_id
        staff = [s for s in team if s.id == staff_id]
        if not staff:
            abort(403)
    monday = _monday(request.args.get("week"))
    view = service.week_for(db(), actor, state().settings, staff, monday)
    return render_template(
        "visits/week.html",
        rows=view.rows,
        monday=monday,
        who=who,
        team=team,
        households=view.households,
        prev_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
    )


@bp.route("/availability/<int:staff_id>", methods=["GET", "POST"])
@login_required
def availability(staff_id: int):
    actor = current_actor()
    staff = db().get(StaffUser, staff_id)
    if staff is None:
        abort(404)
    if not service.may_edit(db(), actor, staff_id):
        abort(403)
    errors: dict[str, str] = {}
    values = request.form
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "pattern":
                windows = []
                for day in range(7):
                    start = service.parse_time(values.get(f"start{day}"), f"day{day}")
                    end = service.parse_time(values.get(f"end{day}"), f"day{day}")
                    if start is None and end is None:
                        continue
                    if start is None or end is None:
                        raise InvalidInput(
                            f"{service.WEEKDAYS[day]}: enter a start and an end", f"day{day}"
                        )
                    minutes = _int(values.get(f"slot{day}")) or 90
                    windows.append(service.Window(day, start, end, minutes))
                service.set_weekly_pattern(db(), actor, staff_id, windows)
                flash("Weekly availability saved")
            elif action == "exception":
                try:
                    on_date = parse_date_parts(values.getlist("on_date"))
                except DateMissing:
                    raise InvalidInput("Enter the date of the change", "on_date") from None
                except ValueError as exc:
                    raise InvalidInput(str(exc), "on_date") from None
                service.add_exception(
                    db(), actor, staff_id, on_date=on_date,
                    available=values.get("available") == "yes",
                    start=service.parse_time(values.get("start"), "start"),
                    end=service.parse_time(values.get("end"), "end"),
                    note=values.get("note"),
                )  # fmt: skip
                flash("Change to availability added")
            elif action == "delete":
                service.delete_exception(db(), actor, _int(values.get("exception_id")) or 0)
                flash("Change to availability removed")
            else:
                abort(400)
        except InvalidInput as exc:
            errors = exc.errors
        else:
            return redirect(url_for("visits.availability", staff_id=staff_id))
    today = clock.now().astimezone(state().settings.tz).date()
    patterns = service.patterns_for(db(), staff_id)
    by_day = {p.weekday: p for p in patterns}
    return render_template(
        "visits/availability.html",
        staff=staff,
        by_day=by_day,
        weekdays=service.WEEKDAYS,
        exceptions=service.exceptions_for(db(), staff_id, today),
        errors=errors,
        values=values,
    ), (400 if errors else 200)
