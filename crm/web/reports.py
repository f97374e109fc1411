"""The weekly report in the web CRM, for managers (and admins), printable.

    /reports                          -> the last complete week
    /reports/weekly/2026-W10          the report page (?area=Northshire to narrow it)
    /reports/weekly/2026-W10.csv      the tables as CSV
    /reports/weekly/2026-W10/funnel.png   a chart (the page's <img> sources)

A manager who works in only some areas sees only those areas. The page and its charts come
from one report, kept until the data changes (two minutes at most, see `_report`): the page
is answered without drawing, and each chart is drawn the first time its image is asked for.
Under the reports, the app keeps the large tables the funnel reads (funnel.load.FrameStore,
one for the app): another week, another area or the first report after a change reads only
what changed since, and makes the same frames load_funnel_data would.
The report itself (its numbers, charts and the body of the page, shared with the email)
comes from funnel.report; the page around it is in crm/web/templates/funnel/.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from jinja2 import TemplateNotFound
from sqlmodel import select

import funnel
from crm import clock
from crm.models import Area, Role
from crm.services import access
from crm.services.errors import NotAllowed
from crm.web import db, state
from crm.web.auth import current_actor, roles_required
from funnel.periods import IsoWeek

if TYPE_CHECKING:
    from funnel.report import WeeklyReport

# The report's body template and stylesheet are funnel.report's (the email and the saved files
# use the same ones), found without importing funnel.report: it loads pandas and matplotlib.
_FUNNEL_FILES = Path(funnel.__file__).resolve().parent
bp = Blueprint(
    "funnel",
    __name__,
    template_folder=str(_FUNNEL_FILES / "templates"),
    static_folder=str(_FUNNEL_FILES / "static"),
    static_url_path="/reports/assets",
)
CACHE_SECONDS = 120
CACHE_SIZE = 16
_lock = threading.Lock()


def _allowed_area_ids() -> list[int] | None:
    """None for the whole hub; otherwise the areas this member of staff works in (the rule is
    crm.services.access.report_area_ids, the same one the weekly email follows)."""
    try:
        return access.report_area_ids(db(), current_actor())
    except NotAllowed:
        abort(403)


def _area_choices(allowed: list[int] | None) -> list[tuple[str, str]]:
    """The areas this member of staff may narrow the report to, by name."""
    query = select(Area.name).order_by(Area.name)
    if allowed is not None:
        query = query.where(Area.id.in_(allowed))
    return [(name, name) for name in db().exec(query).all()]


def _chosen_areas() -> tuple[list[int] | None, str]:
    allowed = _allowed_area_ids()
    name = request.args.get("area", "").strip()
    if not name:
        return allowed, ""
    area_id = db().exec(select(Area.id).where(Area.name == name)).first()
    if area_id is None or (allowed is not None and area_id not in allowed):
        abort(404)
    return [area_id], name


def _week(text: str) -> IsoWeek:
    try:
        week = IsoWeek.parse(text)
    except ValueError:
        abort(404)
    today = clock.now().astimezone(state().settings.tz).date()
    if week.monday > today:
        abort(404)
    return week


def _report(week: IsoWeek, area_ids: list[int] | None) -> WeeklyReport:
    """The report, from this app's cache when the page or a chart asked for the same one and
    nothing the report reads has changed since.

    The key is the week, the areas the report was limited to (already narrowed to what this
    member of staff may read, so a one-area manager's key can never be the whole hub's or
    another area's), funnel.load.data_version and what the reader's visibility rule depends on
    (the lists name only households they may open); an entry lives CACHE_SECONDS at most, for
    the edits the version cannot see and the figures of a week still going."""
    # Imported here: pandas and matplotlib take a moment to load, and the app should start
    # quickly.
    from funnel.load import FrameStore, data_version
    from funnel.report import build_weekly_report
    from funnel.weekly import report_as_of

    cache = current_app.extensions.setdefault("funnel_reports", {})
    version = data_version(db())
    actor = current_actor()
    key = (
        str(week),
        tuple(area_ids) if area_ids is not None else None,
        version,
        # Whose households the lists may name (crm.services.access.household_visibility).
        access.visibility_key(actor),
    )
    now = clock.now()
    with _lock:
        hit = cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
    # The large tables are kept between reports (another week, another area, the next change:
    # see funnel.load.FrameStore); the frames made from them are those load_funnel_data reads.
    with _lock:
        store = current_app.extensions.setdefault("funnel_frames", FrameStore())
    settings = state().settings
    try:
        data = store.load(
            db(),
            as_of=report_as_of(week, settings),
            area_ids=area_ids,
            tz=settings.service.timezone,
            visible=access.household_visibility(actor),
            version=version,
        )
    finally:
        db().rollback()
    report = build_weekly_report(data, week, settings)
    with _lock:
        same = (key[0], key[1], key[3])
        for old in [k for k in cache if (k[0], k[1], k[3]) == same or cache[k][0] <= now]:
            cache.pop(old, None)
        cache[key] = (now + timedelta(seconds=CACHE_SECONDS), report)
        for stale in sorted(cache, key=lambda k: cache[k][0])[: max(0, len(cache) - CACHE_SIZE)]:
            cache.pop(stale, None)
    return report


@bp.get("/reports")
@roles_required(Role.MANAGER, Role.ADMIN)
def report():
    week = IsoWeek.last_complete(clock.now(), state().settings.service.timezone)
    # Only the area filter carries over: other query arguments are not ours to forward.
    area = request.args.get("area")
    return redirect(url_for("funnel.weekly", week=str(week), **({"area": area} if area else {})))


@bp.get("/reports/weekly/<week>")
@roles_required(Role.MANAGER, Role.ADMIN)
def weekly(week: str):
    chosen = _week(week)
    area_ids, area = _chosen_areas()
    report = _report(chosen, area_ids)
    args = {"area": area} if area else {}
    today = clock.now().astimezone(state().settings.tz).date()
    following = chosen.shift(1)
    tz = state().settings.service.timezone
    context = {
        "report": report,
        "case_url": lambda household_id: url_for("households.show", household_id=household_id),
        "area_choices": _area_choices(_allowed_area_ids()),
        "area": area,
        "week_url": url_for("funnel.weekly", week=str(chosen)),
        # A week still going reads "so far": the link says so before anyone follows it.
        "next_unfinished": following.end_utc(tz) > clock.now(),
        "image_src": lambda chart: url_for(
            "funnel.chart", week=str(chosen), name=chart.name, **args
        ),
        "css_url": url_for("funnel.static", filename="weekly_report.css"),
        "csv_url": url_for("funnel.weekly_csv", week=str(chosen), **args),
        "previous_week": str(chosen.shift(-1)),
        "previous_url": url_for("funnel.weekly", week=str(chosen.shift(-1)), **args),
        "next_week": str(following),
        "next_url": url_for("funnel.weekly", week=str(following), **args)
        if following.monday <= today
        else None,
    }
    try:
        return render_template("funnel/weekly_page.html", **context)
    except TemplateNotFound as exc:
        # Without the web CRM's layout (base.html), the page stands alone.
        if exc.name != "base.html":
            raise
        return render_template("funnel/weekly_page_standalone.html", **context)


@bp.get("/reports/weekly/<week>.csv")
@roles_required(Role.MANAGER, Role.ADMIN)
def weekly_csv(week: str):
    from funnel.report import report_csv

    chosen = _week(week)
    area_ids, _ = _chosen_areas()
    report = _report(chosen, area_ids)
    return Response(
        report_csv(report).encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{report.slug}.csv"'},
    )


@bp.get("/reports/weekly/<week>/<name>.png")
@roles_required(Role.MANAGER, Role.ADMIN)
def chart(week: str, name: str):
    chosen = _week(week)
    area_ids, _ = _chosen_areas()
    report = _report(chosen, area_ids)
    found = next((c for c in report.charts if c.name == name), None)
    if found is None:
        abort(404)
    return Response(found.png, mimetype="image/png")


# -- the annual figures (1 April to 31 March) -------------------------------------------------


def _year(text: str) -> int:
    """A start year in the range we may have data for, and not one that has not begun."""
    from funnel.annual import current_year

    today = clock.now().astimezone(state().settings.tz).date()
    try:
        year = int(text)
    except ValueError:
        abort(404)
    if not 2000 <= year <= current_year(today):
        abort(404)
    return year


@bp.get("/reports/annual")
@roles_required(Role.MANAGER, Role.ADMIN)
def annual_index():
    from funnel.annual import current_year

    today = clock.now().astimezone(state().settings.tz).date()
    chosen = request.args.get("year", "").strip()
    # The year form sends ?year=2025; the last full year is the default.
    year = _year(chosen) if chosen else current_year(today) - 1
    area = request.args.get("area")
    return redirect(url_for("funnel.annual", year=year, **({"area": area} if area else {})))


@bp.get("/reports/annual/<year>")
@roles_required(Role.MANAGER, Role.ADMIN)
def annual(year: str):
    from funnel.annual import current_year, load_annual_figures, year_label
    from funnel.config import load_funnel_config

    chosen = _year(year)
    area_ids, area = _chosen_areas()
    figures = load_annual_figures(db(), state().settings, chosen, area_ids=area_ids)
    db().rollback()

    args = {"area": area} if area else {}
    today = clock.now().astimezone(state().settings.tz).date()
    years = range(current_year(today), current_year(today) - 6, -1)
    return render_template(
        "funnel/annual_page.html",
        figures=figures,
        tables=figures.tables(load_funnel_config()),
        year_choices=[(str(y), year_label(y)) for y in years],
        area_choices=_area_choices(_allowed_area_ids()),
        area=area,
        xlsx_url=url_for("funnel.annual_xlsx", year=chosen, **args),
        css_url=url_for("funnel.static", filename="weekly_report.css"),
    )


@bp.get("/reports/annual/<year>.xlsx")
@roles_required(Role.MANAGER, Role.ADMIN)
def annual_xlsx(year: str):
    from funnel.annual import annual_workbook, load_annual_figures

    chosen = _year(year)
    area_ids, _ = _chosen_areas()
    figures = load_annual_figures(db(), state().settings, chosen, area_ids=area_ids)
    db().rollback()
    return Response(
        annual_workbook(figures),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="annual-figures-{figures.label}.xlsx"'
        },
    )
