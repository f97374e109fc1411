"""What every template can use: London-time formatting, labels, the navigation for the role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from flask import Flask, current_app, request, url_for

from crm import clock, stages
from crm.models import Role, Stage
from crm.services.validation import format_phone
from crm.timetext import clock_time
from crm.web import state


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: frozenset[Role]
    # URL prefix that marks the item as the current section.
    prefix: str


_ALL = frozenset(Role)
_RECRUITMENT = frozenset(
    {Role.ADMIN, Role.MANAGER, Role.RECRUITMENT_OFFICER, Role.ASSESSING_SOCIAL_WORKER}
)
_CARERS = frozenset({Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER})
_OVERSIGHT = frozenset({Role.ADMIN, Role.MANAGER})

# The service navigation. Another package may append a NavItem (shown only when its endpoint
# is registered in the app), e.g. the funnel reports.
NAVIGATION: list[NavItem] = [
    NavItem("home.index", "Home", _ALL, "/home"),
    NavItem("board.board", "Pipeline", _RECRUITMENT, "/pipeline"),
    NavItem("households.index", "Households", _RECRUITMENT, "/households"),
    NavItem("visits.week", "Visits", _ALL, "/visits"),
    NavItem("carers.index", "Carers", _CARERS, "/carers"),
    NavItem("caseloads.index", "Caseloads", _ALL, "/caseloads"),
    NavItem("funnel.report", "Reports", _OVERSIGHT, "/reports"),
    NavItem("imports.upload", "Import", _OVERSIGHT, "/imports"),
    NavItem("admin.audit_log", "Audit log", _OVERSIGHT, "/audit"),
    NavItem("admin.index", "Admin", frozenset({Role.ADMIN}), "/admin"),
]


# strftime directives for a time of day: a format with one of these is an old-style format,
# applied as it is (templates of other packages may still pass one).
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%X", "%T", "%R", "%c")


def local_time(value: datetime | None, fmt: str = "%-d %b %Y", *, seconds: bool = False) -> str:
    """A moment in London time: the date in `fmt`, then the time in GOV.UK style
    ('10 Mar 2026 at 9:30am'). An `fmt` that has its own time directives is used as it is."""
    if value is None:
        return ""
    local = value.astimezone(state().settings.tz)
    if any(directive in fmt for directive in _TIME_DIRECTIVES):
        return local.strftime(fmt)
    return f"{local.strftime(fmt)} at {clock_time(local, seconds=seconds)}"


def govuk_time(value: datetime | time | None, *, seconds: bool = False) -> str:
    """The time of day alone, in London time and GOV.UK style: '9:30am', '10am', 'midday'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(state().settings.tz)
    return clock_time(value, seconds=seconds)


def govuk_time_range(start: datetime | time | None, end: datetime | time | None) -> str:
    """'9:30am to 11am'."""
    if start is None or end is None:
        return govuk_time(start or end)
    return f"{govuk_time(start)} to {govuk_time(end)}"


def local_date(value: date | datetime | None, fmt: str = "%-d %b %Y") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(state().settings.tz)
    return value.strftime(fmt)


def phone(value: str | None) -> str:
    if not value:
        return ""
    try:
        return format_phone(value)
    except Exception:  # noqa: BLE001 - an odd stored number is still shown as stored
        return value


def stage_label(value: str | Stage | None) -> str:
    if not value:
        return ""
    try:
        return Stage(value).label
    except ValueError:
        return str(value)


def display(value: object) -> str:
    """A timeline value: datetimes in London time, the rest as text."""
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return local_date(value)
    return "" if value is None else str(value)


def humanise(value: str | None) -> str:
    # A role has its own words ("Agency decision maker").
    if value in Role._value2member_map_:
        return Role(value).label
    return (value or "").replace("_", " ").capitalize()


def navigation() -> list[dict]:
    from crm.web.auth import current_user

    user = current_user()
    if user is None:
        return []
    items = []
    for item in NAVIGATION:
        if Role(user.role) not in item.roles or item.endpoint not in current_app.view_functions:
            continue
        href = url_for(item.endpoint)
        current = request.path == href or (
            item.prefix != "/home" and request.path.startswith(item.prefix)
        )
        items.append({"href": href, "text": item.label, "active": current})
    return items


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(govuk_time, "govuk_time")
    app.add_template_filter(govuk_time_range, "govuk_time_range")
    app.add_template_filter(phone, "phone")
    app.add_template_filter(stage_label, "stage_label")
    app.add_template_filter(stages.colour, "stage_colour")
    app.add_template_filter(humanise, "humanise")
    app.add_template_filter(display, "display")

    @app.context_processor
    def _globals() -> dict:
        from crm.web.auth import current_user

        return {
            "service_name": state().settings.service.name,
            # Off when everyone signs in through the council's identity provider: no password
            # is checked, so none is changed (crm.web.auth.change_password refuses too).
            "password_sign_in": state().settings.sign_in.password,
            "current_user": current_user,
            "navigation": navigation,
            "now": clock.now,
            # Pages of other packages are linked only when their blueprint is registered.
            "has_endpoint": lambda name: name in current_app.view_functions,
        }
