"""Admin pages (users, areas, reason lists, sources, campaigns, failed messages) and the audit
log (admins and managers)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import select

from crm.models import (
    Area,
    AuditAction,
    Campaign,
    OutboxMessage,
    OutboxStatus,
    Reason,
    ReasonKind,
    Role,
    Source,
    StaffArea,
    StaffUser,
)
from crm.services import admin as service
from crm.services import second_factor
from crm.services import sessions as sessions_service
from crm.services.errors import InvalidInput
from crm.services.staff import create_staff_user
from crm.web import db, state
from crm.web.auth import (
    ADMIN_ROLES,
    OVERSIGHT_ROLES,
    current_actor,
    current_session,
    roles_required,
    sign_in_throttle,
)
from crm.web.forms import DateMissing, parse_date_parts
from crm.web.households import _int

bp = Blueprint("admin", __name__)


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "yes", "y")


@bp.get("/admin")
@roles_required(*ADMIN_ROLES)
def index():
    return render_template("admin/index.html")


# -- users --------------------------------------------------------------------------------


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def users():
    errors: dict[str, str] = {}
    if request.method == "POST":
        area_names = [
            a.name for a in db().exec(select(Area)) if str(a.id) in request.form.getlist("areas")
        ]
        try:
            user = create_staff_user(
                db(), current_actor(), email=request.form.get("email", ""),
                name=request.form.get("name", ""), role=request.form.get("role", ""),
                password=request.form.get("password", ""), area_names=area_names,
            )  # fmt: skip
        except InvalidInput as exc:
            errors = exc.errors
        else:
            flash(f"{user.name} can now sign in")
            return redirect(url_for("admin.users"))
    staff = db().exec(select(StaffUser).order_by(StaffUser.name)).all()
    areas_of: dict[int, list[str]] = {}
    names = dict(db().exec(select(Area.id, Area.name)).all())
    for staff_id, area_id in db().exec(select(StaffArea.staff_id, StaffArea.area_id)):
        areas_of.setdefault(staff_id, []).append(names.get(area_id, ""))
    all_areas = db().exec(select(Area).order_by(Area.name)).all()
    return render_template(
        "admin/users.html", staff=staff, areas_of=areas_of, errors=errors,
        values=request.form, roles=list(Role), areas=all_areas,
    ), (400 if errors else 200)  # fmt: skip


@bp.route("/admin/users/<int:staff_id>", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def user(staff_id: int):
    staff = db().get(StaffUser, staff_id)
    if staff is None:
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "save":
                service.update_staff_user(
                    db(), current_actor(), staff_id, name=request.form.get("name", ""),
                    role=request.form.get("role", ""), active=_checked("active"),
                    area_ids=[int(a) for a in request.form.getlist("areas") if a.isdigit()],
                )  # fmt: skip
                flash("Saved")
            elif action == "clear-failures":
                service.clear_sign_in_failures(db(), current_actor(), staff_id, sign_in_throttle())
                flash("Failed sign-ins forgotten")
            elif action == "password":
                service.reset_password(
                    db(), current_actor(), staff_id, request.form.get("password", ""),
                    throttle=sign_in_throttle(),
                )  # fmt: skip
                flash("Password changed; they are signed out everywhere")
            elif action == "end-session":
                session_id = _int(request.form.get("session_id"))
                if session_id is None:
                    abort(400)
                sessions_service.end_session_by_admin(db(), current_actor(), staff_id, session_id)
                flash("Session ended")
            elif action == "reset-second-factor":
                second_factor.reset_by_admin(db(), current_actor(), staff_id)
                flash(
                    "Their code app and recovery codes are removed; they are signed out everywhere"
                )
            elif action == "end-sessions":
                sessions_service.end_all_by_admin(db(), current_actor(), staff_id)
                flash("All their sessions ended")
            else:
                abort(400)
        except InvalidInput as exc:
            errors = exc.errors
        else:
            return redirect(url_for("admin.user", staff_id=staff_id))
    mine = set(db().exec(select(StaffArea.area_id).where(StaffArea.staff_id == staff_id)).all())
    return render_template(
        "admin/user.html", staff=staff, errors=errors, roles=list(Role), mine=mine,
        areas=db().exec(select(Area).order_by(Area.name)).all(), values=request.form,
        live_sessions=sessions_service.live_sessions(db(), current_actor(), staff_id),
        current_session=current_session(),
        failures=service.sign_in_failures(db(), current_actor(), staff_id, sign_in_throttle()),
        has_second_factor=second_factor.is_set_up(db(), staff),
    ), (400 if errors else 200)  # fmt: skip


# -- areas --------------------------------------------------------------------------------


@bp.route("/admin/areas", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def areas():
    errors: dict[str, str] = {}
    failed_id = None
    if request.method == "POST":
        area_id = _int(request.form.get("area_id"))
        try:
            service.save_area(
                db(), current_actor(), area_id, name=request.form.get("name", ""),
                districts=request.form.get("districts", ""),
                childrens_services_phone=request.form.get("phone"),
                active=_checked("active") if area_id else True,
            )  # fmt: skip
        except InvalidInput as exc:
            errors, failed_id = exc.errors, area_id or "new"
        else:
            flash("Area saved")
            return redirect(url_for("admin.areas"))
    return render_template(
        "admin/areas.html",
        areas=db().exec(select(Area).order_by(Area.name)).all(),
        districts=service.districts_by_area(db()),
        errors=errors, failed_id=failed_id, values=request.form,
    ), (400 if errors else 200)  # fmt: skip


# -- lists --------------------------------------------------------------------------------


@bp.route("/admin/reasons", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def reasons():
    errors: dict[str, str] = {}
    failed_id = None
    if request.method == "POST":
        reason_id = _int(request.form.get("reason_id"))
        try:
            service.save_reason(
                db(), current_actor(), reason_id, kind=request.form.get("kind", ""),
                code=request.form.get("code", ""), label=request.form.get("label", ""),
                active=_checked("active") if reason_id else True,
            )  # fmt: skip
        except InvalidInput as exc:
            errors, failed_id = exc.errors, reason_id or "new"
        else:
            flash("Reason saved")
            return redirect(url_for("admin.reasons"))
    rows = db().exec(select(Reason).order_by(Reason.kind, Reason.label)).all()
    return render_template(
        "admin/reasons.html", rows=rows, kinds=list(ReasonKind), errors=errors,
        failed_id=failed_id, values=request.form,
    ), (400 if errors else 200)  # fmt: skip


@bp.route("/admin/sources", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def sources():
    errors: dict[str, str] = {}
    failed_id = None
    if request.method == "POST":
        new = request.form.get("new") == "1"
        try:
            service.save_source(
                db(), current_actor(), request.form.get("key", ""),
                label=request.form.get("label", ""),
                active=True if new else _checked("active"), new=new,
            )  # fmt: skip
        except InvalidInput as exc:
            errors, failed_id = exc.errors, "new" if new else request.form.get("key")
        else:
            flash("Source saved")
            return redirect(url_for("admin.sources"))
    rows = db().exec(select(Source).order_by(Source.label)).all()
    return render_template(
        "admin/sources.html", rows=rows, errors=errors, failed_id=failed_id, values=request.form
    ), (400 if errors else 200)


@bp.route("/admin/campaigns", methods=["GET", "POST"])
@roles_required(*ADMIN_ROLES)
def campaigns():
    errors: dict[str, str] = {}
    failed_id = None
    if request.method == "POST":
        campaign_id = _int(request.form.get("campaign_id"))
        try:
            service.save_campaign(
                db(), current_actor(), campaign_id, name=request.form.get("name", ""),
                source_key=request.form.get("source_key") or None,
                cost_pounds=request.form.get("cost"),
                active=_checked("active") if campaign_id else True,
            )  # fmt: skip
        except InvalidInput as exc:
            errors, failed_id = exc.errors, campaign_id or "new"
        else:
            flash("Campaign saved")
            return redirect(url_for("admin.campaigns"))
    rows = db().exec(select(Campaign).order_by(Campaign.name)).all()
    return render_template(
        "admin/campaigns.html", rows=rows, errors=errors, failed_id=failed_id,
        values=request.form, sources=db().exec(select(Source).order_by(Source.label)).all(),
    ), (400 if errors else 200)  # fmt: skip


# -- failed messages (from the outbox dispatcher, when it is installed) -------------------


def _failed_messages():  # noqa: ANN202
    from crm.services import outbox

    finder = getattr(outbox, "failed_messages", None)
    return None if finder is None else finder


MESSAGES_SHOWN = 200


def _retrying_messages() -> tuple[list[OutboxMessage], int]:
    """Messages whose last attempt failed and that wait for another (soonest first), and how
    many there are: not failed yet, but not sent either."""
    waiting = sa.and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0)
    rows = (
        db()
        .exec(
            select(OutboxMessage)
            .where(waiting)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(MESSAGES_SHOWN)
        )
        .all()
    )
    total = db().exec(select(sa.func.count()).select_from(OutboxMessage).where(waiting)).one()
    return list(rows), total


@bp.get("/admin/messages")
@roles_required(*ADMIN_ROLES)
def messages():
    finder = _failed_messages()
    if finder is None:
        return render_template("admin/messages.html", rows=None)
    failed_total = (
        db()
        .exec(
            select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.FAILED)
        )
        .one()
    )
    retrying, retrying_total = _retrying_messages()
    return render_template(
        "admin/messages.html",
        rows=list(finder(db(), limit=MESSAGES_SHOWN)),
        failed_total=failed_total,
        retrying=retrying,
        retrying_total=retrying_total,
    )


# -- the audit log ------------------------------------------------------------------------


def _day(name: str, what: str, errors: dict[str, str]) -> date | None:
    """A filter date typed in the GOV.UK date input (or given as 2026-03-17 in a link)."""
    try:
        return parse_date_parts(request.args.getlist(name), what)
    except DateMissing:
        return None
    except ValueError as exc:
        errors[name] = str(exc)
        return None


@bp.get("/audit")
@roles_required(*OVERSIGHT_ROLES)
def audit_log():
    tz = state().settings.tz
    errors: dict[str, str] = {}
    since, until = _day("from", "From date", errors), _day("to", "To date", errors)
    action = request.args.get("action", "")
    query = service.AuditQuery(
        actor_id=_int(request.args.get("actor")),
        action=action if action in AuditAction._value2member_map_ else "",
        entity=request.args.get("entity", "")[:40],
        entity_id=_int(request.args.get("entity_id")),
        since=datetime.combine(since, time.min, tz) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tz) if until else None,
        page=_int(request.args.get("page")) or 1,
    )
    events, total = service.audit_log(db(), query)
    staff = db().exec(select(StaffUser).order_by(StaffUser.name)).all()
    names = {s.id: s.name for s in staff}
    # Lists kept whole: a date filter is three values under one name.
    args = {k: v for k, v in request.args.lists() if k != "page" and any(v)}
    pages = max(1, -(-total // query.per_page))
    return render_template(
        "admin/audit.html", events=events, total=total, query=query, names=names, staff=staff,
        actions=list(AuditAction), args=args, page=min(query.page, pages), pages=pages,
        errors=errors, since=since, until=until,
        entities=["household", "carer", "appointment", "task", "staff_user", "household_list",
                  "area", "reason", "source", "campaign"],
    )  # fmt: skip
