"""The no-sign-in pages behind the links in our emails.

- `/check-in/<token>/<answer>`: one click from a check-in email records the answer (1-5 or
  "call") and thanks the carer; the page then offers to add a comment or ask for a call.
- `/check-in/<token>`: the same question as a page (for a link opened without an answer).
- `/unsubscribe/<token>`: stop emails. A GET shows a button (mail scanners follow links, so a
  GET must never unsubscribe); a POST does it, including the one-click POST that mail
  providers send for the List-Unsubscribe-Post header (RFC 8058).
"""

from __future__ import annotations

import contextlib

from flask import Blueprint, abort, render_template, request

from crm.models import CheckIn
from crm.services import checkins, outbox
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotFound
from crm.web import db, state
from crm.web.ratelimit import limit

# Templates in crm/web/templates/checkins/; their own stylesheet and script (these pages do
# not use the staff or public layout) under /checkins/static/.
bp = Blueprint(
    "checkins", __name__, static_folder="static/checkins", static_url_path="/checkins/static"
)
ANSWERS = {str(n) for n in range(1, 6)} | {checkins.CALL_ANSWER}
ANSWERS_PER_CHECK_IN_PER_HOUR = 10
ANSWERS_PER_ADDRESS_PER_HOUR = 60


@bp.record_once
def _exempt_from_csrf(state) -> None:  # noqa: ANN001
    # The one-click unsubscribe POST comes from a mail provider, with no form token.
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt("crm.web.checkins.unsubscribe")


@bp.context_processor
def _service_name() -> dict:
    return {"service_name": lambda: state().settings.service.name}


def _web():  # noqa: ANN202
    return db(), state().settings


def _problem(message: str, status: int = 400):  # noqa: ANN202
    return render_template("checkins/problem.html", message=message), status


def _check_in_from(token: str):  # noqa: ANN202
    session, settings = _web()
    check_in_id = checkins.read_answer_token(settings, token)
    check_in = session.get(CheckIn, check_in_id)
    if check_in is None:
        raise NotFound("This check-in no longer exists.")
    return session, settings, check_in


@bp.get("/check-in/<token>")
def question(token: str):  # noqa: ANN201
    try:
        _session, _settings, check_in = _check_in_from(token)
    except (InvalidInput, NotFound) as exc:
        return _problem(str(exc))
    return render_template(
        "checkins/question.html", token=token, check_in=check_in, labels=checkins.SCORE_LABELS
    )


@bp.get("/check-in/<token>/<answer>")
def one_click(token: str, answer: str):  # noqa: ANN201
    """The email's one-click link. A GET never records anything: mail scanners follow every
    link in a message and would answer for the carer (and raise alarms). The page posts the
    answer itself at once with a small script; without JavaScript it is one button."""
    if answer not in ANSWERS:
        abort(404)
    try:
        _session, _settings, check_in = _check_in_from(token)
    except (InvalidInput, NotFound) as exc:
        return _problem(str(exc))
    wants_call = answer == checkins.CALL_ANSWER
    return render_template(
        "checkins/confirm.html",
        token=token,
        check_in=check_in,
        score=None if wants_call else int(answer),
        wants_call=wants_call,
        labels=checkins.SCORE_LABELS,
    )


@bp.post("/check-in/<token>")
def answer(token: str):  # noqa: ANN201
    # A carer answers, perhaps changes their mind or adds a comment: a few posts. Thousands
    # are a script.
    limit("check-in answer", request.remote_addr, ANSWERS_PER_ADDRESS_PER_HOUR, 3600)
    try:
        session, settings, check_in = _check_in_from(token)
    except (InvalidInput, NotFound) as exc:
        return _problem(str(exc))
    limit("check-in answer link", str(check_in.id), ANSWERS_PER_CHECK_IN_PER_HOUR, 3600)
    raw_score = (request.form.get("score") or "").strip()
    wants_call = request.form.get("wants_call") in {"1", "yes", "on", "true"}
    comment = request.form.get("comment")
    try:
        score = int(raw_score) if raw_score else None
    except ValueError:
        score = -1
    try:
        result = checkins.answer_check_in(
            session,
            check_in.id,
            score=score,
            wants_call=wants_call,
            comment=comment,
            via="email",
            settings=settings,
        )
    except InvalidInput as exc:
        return (
            render_template(
                "checkins/question.html",
                token=token,
                check_in=check_in,
                labels=checkins.SCORE_LABELS,
                errors=exc.errors,
                comment=comment or "",
            ),
            400,
        )
    return render_template(
        "checkins/thanks.html",
        token=token,
        result=result,
        check_in=result.check_in,
        labels=checkins.SCORE_LABELS,
        comment_saved=bool(comment and comment.strip()),
    )


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):  # noqa: ANN201
    session, settings = _web()
    try:
        household_id, scope = outbox.read_unsubscribe_token(settings, token)
    except InvalidInput as exc:
        return _problem(str(exc))
    if request.method == "GET":
        return render_template("checkins/unsubscribe.html", token=token, done=False)
    # NotFound: their details are gone already, so nothing more will be sent anyway.
    with contextlib.suppress(NotFound):
        outbox.withdraw_consent(
            session,
            Actor.system("unsubscribe link"),
            household_id,
            scope,
            wording="Unsubscribed with the link in an email",
            via="unsubscribe link",
        )
    return render_template("checkins/unsubscribe.html", token=token, done=True)
