"""Subject access downloads and erasure of a household (managers and admins). The service
builds the file and does the erasure; these routes only pass the request on."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from wtforms import RadioField, SubmitField

from crm.services import data_protection as service
from crm.services.errors import InvalidInput
from crm.services.households import get_household
from crm.web import db, state
from crm.web.auth import OVERSIGHT_ROLES, current_actor, roles_required
from crm.web.forms import ConfirmForm, attach_errors, options

bp = Blueprint("data_protection", __name__, url_prefix="/households")


class CopyForm(FlaskForm):
    """Who asked for a copy of a joint household's data. A download changes nothing, so it is
    a GET form without a CSRF token; the service checks the choice."""

    class Meta:
        csrf = False

    requested_by = RadioField("Who asked for the copy?", widget=GovRadioInput())
    submit = SubmitField("Download the copy (ZIP file)", widget=GovSubmitInput())


def _copy_form(household) -> CopyForm:  # noqa: ANN001
    form = CopyForm(formdata=request.args if "requested_by" in request.args else None)
    applicants = sorted(household.applicants, key=lambda a: a.position)
    if len(applicants) > 1:
        first, second = (f"{a.first_name} {a.last_name}".strip() for a in applicants[:2])
        form.requested_by.choices = options(
            [
                ("both", f"Both of them: {first} and {second}"),
                ("first", f"Only {first}"),
                ("second", f"Only {second}"),
            ]
        )
    return form


def _page(household, form: ConfirmForm, copy_form: CopyForm, status: int = 200):  # noqa: ANN001, ANN202
    return (
        render_template("data_protection/erase.html", form=form, copy_form=copy_form, h=household),
        status,
    )


@bp.get("/<int:household_id>/subject-access.zip")
@roles_required(*OVERSIGHT_ROLES)
def export_household(household_id: int):
    household = get_household(db(), current_actor(), household_id)
    try:
        export = service.subject_access_zip(
            db(), current_actor(), state().settings, household.id,
            requested_by=request.args.get("requested_by"),
        )  # fmt: skip
    except InvalidInput as exc:
        if "requested_by" not in request.args:
            # Followed a link, not the form: ask who asked, on the data protection page.
            return redirect(
                url_for("data_protection.erase", household_id=household.id, _anchor="copy")
            )
        copy_form = _copy_form(household)
        attach_errors(copy_form, exc.errors, "requested_by")
        return _page(household, ConfirmForm(formdata=None), copy_form, 400)
    return Response(
        export.content,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@bp.route("/<int:household_id>/erase", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def erase(household_id: int):
    household = get_household(db(), current_actor(), household_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = ["Tick the box to confirm the erasure"]
        else:
            try:
                service.anonymise_household(
                    db(), current_actor(), household.id, reason=form.reason.data or "",
                    settings=state().settings,
                )  # fmt: skip
            except InvalidInput as exc:
                attach_errors(form, exc.errors, "reason")
            else:
                flash("Personal data erased. The anonymous stage history is kept.")
                return redirect(url_for("households.show", household_id=household.id))
    return _page(household, form, _copy_form(household), 400 if form.errors else 200)
