"""A page that proves the database is live (the web CRM issue replaces it with the real home)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlmodel import func, select

from crm.models import FUNNEL_STAGES, Household, Stage
from crm.web import db, state

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    rows = db().exec(select(Household.stage, func.count()).group_by(Household.stage)).all()
    counts = {Stage(stage): total for stage, total in rows}
    return render_template(
        "status.html",
        service_name=state().settings.service.name,
        stages=[(stage, counts.get(stage, 0)) for stage in Stage],
        funnel=FUNNEL_STAGES,
        total=sum(counts.values()),
    )


@bp.get("/healthz")
def healthz():
    db().exec(select(1)).one()
    return {"status": "ok"}
