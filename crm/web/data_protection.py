"""Subject access downloads and erasure of a household (managers and admins). The service
builds the file and does the erasure; these routes only pass the request on."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for

from crm.services import data_protection as service
from crm.services.errors import InvalidInput
from crm.web import db, state
from crm.web.auth import OVERSIGHT_ROLES, current_actor, roles_required
from crm.web.forms import ConfirmForm, attach_errors

bp = Blueprint("data_protection", __name__, url_prefix="/households")


@bp.get("/<int:household_id>/subject-access.zip")
@roles_required(*OVERSIGHT_ROLES)
def export_household(household_id: int):
    export = service.subject_access_zip(db(), current_actor(), state().settings, household_id)
    return Response(
        export.content,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@bp.route("/<int:household_id>/erase", methods=["GET", "POST"])
@roles_required(*OVERSIGHT_ROLES)
def erase(household_id: int):
    from crm.services.households import get_household

    household = get_household(db(), current_actor(), household_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = ["Tick the box to confirm the erasure"]
        else:
            try:
                service.anonymise_household(
                    db(), current_actor(), household.id, reason=form.reason.data or ""
                )
            except InvalidInput as exc:
                attach_errors(form, exc.errors, "reason")
            else:
                flash("Personal data erased. The anonymous stage history is kept.")
                return redirect(url_for("households.show", household_id=household.id))
    return render_template("data_protection/erase.html", form=form, h=household)
