"""A task's own page: what it is about, and (for whoever may act on it) closing it with an
outcome or passing it to someone else in its area. The rules are in crm.services.tasks."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextArea
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from crm.services import tasks as service
from crm.services.errors import InvalidInput
from crm.web import db
from crm.web.auth import current_actor, login_required
from crm.web.forms import attach_errors, options
from crm.web.households import _int

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


class CloseForm(FlaskForm):
    outcome = TextAreaField(
        "What came of it?",
        description="What you did or found out, for whoever looks at this next",
        widget=GovTextArea(),
        validators=[
            InputRequired("Say what came of it: what you did or found out"),
            Length(max=service.OUTCOME_LIMIT, message="Use 2000 characters or fewer"),
        ],
    )
    close = SubmitField("Close the task", widget=GovSubmitInput())


class ReassignForm(FlaskForm):
    owner_id = SelectField("Give it to", widget=GovSelect(), validate_choice=False)
    reassign = SubmitField("Reassign", widget=GovSubmitInput())


@bp.app_context_processor
def _open_tasks():  # noqa: ANN202
    """`open_tasks_about(carer_id=...)` for the record pages' task sections (the carer page
    includes tasks/_open.html), through the same visibility rule as every list."""

    def open_tasks_about(**about):  # noqa: ANN003, ANN202
        return service.open_tasks_about(db(), current_actor(), **about)

    return {"open_tasks_about": open_tasks_about}


def _page(task_id: int, close: CloseForm | None = None, reassign: ReassignForm | None = None):  # noqa: ANN202
    view = service.task_view(db(), current_actor(), task_id)
    close = close or CloseForm(formdata=None)
    if reassign is None:
        reassign = ReassignForm(formdata=None)
        reassign.owner_id.data = str(view.task.owner_id or "")
    reassign.owner_id.choices = options(
        [("", "The team (no one person)")] + [(str(s.id), s.name) for s in view.possible_owners]
    )
    errors = bool(close.errors or reassign.errors)
    return render_template(
        "tasks/show.html", view=view, close=close, reassign=reassign, has_errors=errors
    ), (400 if errors else 200)


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    return _page(task_id)


@bp.post("/<int:task_id>/close")
@login_required
def close(task_id: int):
    form = CloseForm()
    if form.validate_on_submit():
        try:
            service.close_task(db(), current_actor(), task_id, outcome=form.outcome.data)
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "outcome")
        else:
            flash("Task closed")
            return redirect(url_for("tasks.show", task_id=task_id))
    return _page(task_id, close=form)


@bp.post("/<int:task_id>/reassign")
@login_required
def reassign(task_id: int):
    form = ReassignForm()
    if form.validate_on_submit():
        try:
            task = service.reassign_task(db(), current_actor(), task_id, _int(form.owner_id.data))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "owner_id")
        else:
            flash("Task reassigned" if task.owner_id else "Task given to the team")
            return redirect(url_for("tasks.show", task_id=task_id))
    return _page(task_id, reassign=form)
