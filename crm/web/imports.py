"""The tracker import wizard (managers and admins): upload, say which column is which and what
the file's list values mean, check (a dry run), import. The steps are in
crm.services.imports.wizard; these routes read the form and show the answer."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from crm.services.errors import InvalidInput, ServiceError
from crm.services.imports import wizard
from crm.services.imports.columns import TrackerError
from crm.services.imports.dates import DAY_FIRST, MONTH_FIRST
from crm.services.imports.mapping import IGNORE, ImportMapping, MappingError
from crm.web import db, state
from crm.web.auth import OVERSIGHT_ROLES, current_actor, roles_required

bp = Blueprint("imports", __name__)

DATE_ORDERS = [
    ("", "Let the importer tell from the dates"),
    (DAY_FIRST, "Day first, as in the UK (01/02/2023 is 1 February)"),
    (MONTH_FIRST, "Month first, as in the US (01/02/2023 is 2 January)"),
]


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def upload():
    errors: dict[str, str] = {}
    if request.method == "POST":
        chosen = request.files.get("file")
        try:
            token = wizard.start(
                db(),
                current_actor(),
                chosen.filename if chosen else "",
                chosen.read() if chosen else b"",
            )
        except InvalidInput as exc:
            errors = exc.errors
        else:
            return redirect(url_for("imports.mapping", token=token))
    return render_template(
        "imports/upload.html", errors=errors, limit_mb=wizard.MAX_UPLOAD_BYTES // 1024 // 1024
    ), (400 if errors else 200)


@bp.app_errorhandler(413)
def too_big(exc):  # noqa: ANN001, ANN201
    """The upload form again, saying so, when a file is over the request size limit."""
    if request.endpoint != "imports.upload":
        return exc
    return render_template(
        "imports/upload.html",
        errors={"file": wizard.too_big_message(request.content_length)},
        limit_mb=wizard.MAX_UPLOAD_BYTES // 1024 // 1024,
    ), 413


@bp.route("/imports/<token>", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def mapping(token: str):
    actor, settings = current_actor(), state().settings
    if request.method == "GET":
        view = wizard.describe(db(), settings, actor, token)
        return _page(token, view)
    if request.form.get("action") == "cancel":
        wizard.discard(db(), actor, token)
        return redirect(url_for("imports.upload"))
    try:
        answers = _answers()
    except MappingError as exc:
        view = wizard.describe(db(), settings, actor, token)
        return _page(token, view, error=str(exc)), 400
    view = wizard.describe(db(), settings, actor, token, answers)
    action = request.form.get("action")
    if action not in ("check", "import") or not view.ready:
        return _page(token, view), (200 if action not in ("check", "import") else 400)
    try:
        report = wizard.run(
            db(),
            settings,
            actor,
            token,
            answers,
            dry_run=action == "check",
            skip_invalid=request.form.get("skip_invalid") == "1",
        )
    except (TrackerError, MappingError, ServiceError) as exc:
        return _page(token, view, error=str(exc)), 400
    if action == "import" and report.imported:
        return render_template("imports/done.html", report=report)
    return _page(token, view, report=report), (200 if report.dry_run else 400)


def _answers() -> ImportMapping:
    form = request.form
    columns = {
        name.removeprefix("column-"): value
        for name, value in form.items()
        if name.startswith("column-")
    }
    values = []
    for name in form:
        if name.startswith("value-") and name.endswith("-choice"):
            stem = name.removesuffix("-choice")
            kind = form.get(f"{stem}-kind", "")
            if kind in wizard.VALUE_NOUNS:
                values.append((kind, form.get(f"{stem}-text", ""), form.get(name, "")))
    return wizard.mapping_from_answers(
        columns,
        values,
        sheet=form.get("sheet") or None,
        header_row=form.get("header_row", ""),
        date_order=form.get("date_order", ""),
    )


def _page(token: str, view: wizard.WizardView, *, error: str | None = None, report=None):  # noqa: ANN001, ANN202
    return render_template(
        "imports/mapping.html",
        token=token,
        view=view,
        error=error,
        report=report,
        column_choices=wizard.column_choices(),
        date_orders=DATE_ORDERS,
        ignore=IGNORE,
        form=request.form if request.method == "POST" else {},
    )
