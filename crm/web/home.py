"""The signed-in user's home page (the health checks are crm.web.health)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from crm.services.households import home_lists
from crm.web import db, state
from crm.web.auth import current_actor, current_user, login_required

bp = Blueprint("home", __name__)


@bp.get("/")
def root():
    if current_user() is None:
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("home.index"))


@bp.get("/home")
@login_required
def index():
    lists = home_lists(db(), current_actor(), state().settings)
    return render_template("home.html", lists=lists, user=current_user())
