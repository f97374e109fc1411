"""The second step of a password sign-in: a code from the person's app, or setting the app up.

After a right password, crm.web.auth.sign_in keeps only "who, until when, what next" in the
signed cookie (`auth.hold_sign_in`), never a session: nothing of the CRM is reachable until
the code is right. The rules are in crm.services.second_factor.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired

from crm import clock
from crm.models import SignInMethod, StaffUser
from crm.services import second_factor as service
from crm.services import sessions as sessions_service
from crm.services.errors import InvalidInput, NotAllowed
from crm.web import db, state
from crm.web.auth import PENDING_KEY, SESSION_TOKEN_KEY, sign_in_throttle

bp = Blueprint("second_factor", __name__)


def _pending(step: str) -> tuple[StaffUser, str] | None:
    held = session.get(PENDING_KEY)
    if not isinstance(held, dict) or held.get("step") != step:
        return None
    if int(held.get("until", 0)) < clock.now().timestamp():
        session.pop(PENDING_KEY, None)
        return None
    user = db().get(StaffUser, int(held.get("staff_id", 0)))
    if user is None or not user.active:
        session.pop(PENDING_KEY, None)
        return None
    return user, str(held.get("next") or url_for("home.index"))


def _signed_in(user: StaffUser, next_url: str) -> None:
    started = sessions_service.start_session(db(), user, method=SignInMethod.PASSWORD_TOTP)
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN_KEY] = started.token


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        description="The 6-digit code your authenticator app shows now, or a recovery code.",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the code from your authenticator app")],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code():
    pending = _pending("code")
    if pending is None:
        return redirect(url_for("auth.sign_in"))
    user, next_url = pending
    form = CodeForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        check = service.check_code(
            db(), user, form.code.data, address=request.remote_addr,
            throttle=sign_in_throttle(), box=state().secret_box,
        )  # fmt: skip
        if check.ok:
            _signed_in(user, next_url)
            if check.used_recovery_code:
                flash(
                    f"You used a recovery code. You have {check.recovery_codes_left} left: "
                    "ask an admin to reset your code app if you have lost your phone."
                )
            return redirect(next_url)
        form.code.errors = [check.message]
        status = 429 if check.retry_after and "too many" in check.message else 400
        if check.retry_after:
            headers["Retry-After"] = str(check.retry_after)
    return render_template("auth/code.html", form=form), status, headers


class SetUpForm(FlaskForm):
    code = StringField(
        "Code from your app",
        description="After scanning, your app shows a 6-digit code. Enter it here.",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the 6-digit code your app shows")],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


@bp.route("/sign-in/set-up", methods=["GET", "POST"])
def set_up():
    pending = _pending("set_up")
    if pending is None:
        return redirect(url_for("auth.sign_in"))
    user, next_url = pending
    form = SetUpForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = service.confirm_set_up(db(), user, form.code.data, box=state().secret_box)
        except InvalidInput as exc:
            form.code.errors = [exc.errors.get("code", "Enter the code your app shows")]
            status = 400
        else:
            _signed_in(user, next_url)
            return render_template("auth/recovery_codes.html", codes=codes, next_url=next_url)
    elif request.method == "POST":
        status = 400
    try:
        enrolment = service.begin_set_up(db(), state().settings, user, box=state().secret_box)
    except NotAllowed:
        return redirect(url_for("auth.sign_in"))
    return render_template(
        "auth/set_up.html", form=form, enrolment=enrolment, qr=service.qr_code(enrolment.uri)
    ), status
