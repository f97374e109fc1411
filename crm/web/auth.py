"""Who is signed in, and what they may reach.

For other blueprints:
- `@login_required` on every staff page (a person not signed in goes to the sign-in page);
- `@roles_required(Role.MANAGER, Role.ADMIN)` for pages only some roles may see (403 page
  for everyone else; it implies login_required);
- `current_actor()` gives the crm.services.actors.Actor to pass to services;
- `current_user()` gives the StaffUser (or None on public pages).

The session cookie holds one random token (crm.services.sessions); every request looks it up
and is refused once that session has ended or expired.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired

from crm import clock
from crm.models import Role, StaffSession, StaffUser
from crm.services import auth as auth_service
from crm.services import second_factor
from crm.services import sessions as sessions_service
from crm.services.actors import Actor
from crm.services.errors import InvalidInput
from crm.services.throttle import DatabaseThrottleStore, SignInThrottle
from crm.web import db, state

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
# The one thing the cookie holds about who is signed in.
SESSION_TOKEN_KEY = "sid"
# A right password waiting for its second factor (crm.web.second_factor): who, what next, until.
PENDING_KEY = "pending_sign_in"
# Time to find the phone and type a code (or scan the QR code) after the password.
PENDING_FOR = timedelta(minutes=10)


def hold_sign_in(user: StaffUser, step: str, next_url: str) -> str:
    """Remember a right password for the next step; returns where to go."""
    session.clear()
    session[PENDING_KEY] = {
        "staff_id": user.id,
        "step": step,
        "until": int((clock.now() + PENDING_FOR).timestamp()),
        "next": next_url,
    }
    return url_for("second_factor.code" if step == "code" else "second_factor.set_up")


def sign_in_throttle() -> SignInThrottle:
    """The failed sign-in counts every web process shares (a Redis store can replace this)."""
    return SignInThrottle(DatabaseThrottleStore(db()), current_app.secret_key)


def _load_signed_in() -> None:
    found = sessions_service.session_for_token(db(), session.get(SESSION_TOKEN_KEY))
    g.staff_user, g.staff_session = found if found else (None, None)
    if found is None and SESSION_TOKEN_KEY in session:
        # Ended or expired: stop sending the dead token.
        session.pop(SESSION_TOKEN_KEY)


def current_user() -> StaffUser | None:
    if "staff_user" not in g:
        _load_signed_in()
    return g.staff_user


def current_session() -> StaffSession | None:
    if "staff_user" not in g:
        _load_signed_in()
    return g.staff_session


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
    status, headers = 200, {}
    settings = state().settings
    if not settings.sign_in.password:
        # Everyone signs in through the council's identity provider: no password is checked.
        if request.method == "POST":
            status = 403
        return render_template("auth/sign_in.html", form=None, sso=settings.single_sign_on), status
    if form.validate_on_submit():
        result = auth_service.authenticate(
            db(), form.email.data, form.password.data,
            address=request.remote_addr, throttle=sign_in_throttle(),
        )  # fmt: skip
        if result.ok:
            step = second_factor.next_step(db(), state().settings, result.user)
            if step != "done":
                # The password was right; the session waits for the second factor.
                return redirect(
                    hold_sign_in(result.user, step, _safe_next(request.args.get("next")))
                )
            started = sessions_service.start_session(db(), result.user)
            # A new cookie for a new session: nothing from before signing in is carried over.
            session.clear()
            session.permanent = True
            session[SESSION_TOKEN_KEY] = started.token
            return redirect(_safe_next(request.args.get("next")))
        form.email.errors = [result.message]
        if result.refused_unchecked:
            status = 429
        if result.retry_after:
            headers["Retry-After"] = str(result.retry_after)
    return (
        render_template("auth/sign_in.html", form=form, sso=settings.single_sign_on),
        status,
        headers,
    )


@bp.post("/sign-out")
def sign_out():
    sessions_service.sign_out(db(), session.get(SESSION_TOKEN_KEY))
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.sign_in"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your current password")],
    )
    new_password = PasswordField(
        "New password",
        description="At least 12 characters. A few unrelated words are easy to remember.",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter a new password")],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    if not state().settings.sign_in.password:
        # Single sign-on only: there is no password here to change (the link is hidden too).
        abort(404)
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            auth_service.change_own_password(
                db(), state().settings, current_actor(),
                current_password=form.current_password.data, new_password=form.new_password.data,
                keep_session_id=current_session().id, address=request.remote_addr,
                throttle=sign_in_throttle(),
            )  # fmt: skip
        except InvalidInput as exc:
            for name, message in exc.errors.items():
                getattr(form, name, form.current_password).errors = [message]
            status = 400
        else:
            flash("Your password has been changed. You have been signed out everywhere else.")
            return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", form=form), status
