"""Who is signed in, and what they may reach.

For other blueprints:
- `@login_required` on every staff page (a person not signed in goes to the sign-in page);
- `@roles_required(Role.MANAGER, Role.ADMIN)` for pages only some roles may see (403 page
  for everyone else; it implies login_required);
- `current_actor()` gives the crm.services.actors.Actor to pass to services;
- `current_user()` gives the StaffUser (or None on public pages).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired

from crm.models import Role, StaffUser
from crm.services import auth as auth_service
from crm.services.actors import Actor
from crm.web import db
from crm.web.ratelimit import limit

bp = Blueprint("auth", __name__)

# What each role may reach (pages check these through roles_required).
RECRUITMENT_ROLES = (
    Role.ADMIN,
    Role.MANAGER,
    Role.RECRUITMENT_OFFICER,
    Role.ASSESSING_SOCIAL_WORKER,
)
CARER_ROLES = (Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER)
OVERSIGHT_ROLES = (Role.ADMIN, Role.MANAGER)
ADMIN_ROLES = (Role.ADMIN,)
# Sign-in attempts from one address before it must wait (on top of the per-account lock-out).
SIGN_IN_ATTEMPTS_PER_IP = 30
SIGN_IN_WINDOW_SECONDS = 600


def current_user() -> StaffUser | None:
    if "staff_user" not in g:
        g.staff_user = auth_service.user_for_session(db(), session.get("uid"), session.get("tok"))
    return g.staff_user


def current_actor() -> Actor:
    """The signed-in member of staff as an Actor (call only behind login_required)."""
    if "actor" not in g:
        user = current_user()
        if user is None:
            abort(403)
        g.actor = Actor.for_staff(db(), user)
    return g.actor


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: Role) -> Callable[[Callable], Callable]:
    allowed = frozenset(Role(r) for r in roles)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
            if Role(user.role) not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # read by the navigation and the role tests
        return wrapper

    return decorator


def has_role(*roles: Role) -> bool:
    user = current_user()
    return user is not None and Role(user.role) in roles


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never send someone on to another host after signing in.
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address")],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password")],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    if current_user() is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    if form.validate_on_submit():
        limit("sign-in", request.remote_addr, SIGN_IN_ATTEMPTS_PER_IP, SIGN_IN_WINDOW_SECONDS)
        result = auth_service.authenticate(db(), form.email.data, form.password.data)
        if result.ok:
            session.clear()
            session.permanent = True
            session["uid"] = result.user.id
            session["tok"] = auth_service.session_token(result.user)
            return redirect(_safe_next(request.args.get("next")))
        form.email.errors = [result.message]
    return render_template("auth/sign_in.html", form=form)


@bp.post("/sign-out")
def sign_out():
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.sign_in"))
