"""The assessment of a household, from its page: members and pets, the checks, the assessing
social worker, assessment session notes, Skills to Foster and the Form F. The household page
shows the section (assessment/_household_section.html, through `assessment_section`); the
home page lists an assessor's caseload. The rules are in crm.services.members, checks and
assessment."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from crm import clock
from crm.models import CheckOutcome, DocumentKind, FormFStatus, MemberKind, SessionOutcome
from crm.services import assessment as service
from crm.services import checks, documents, members
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.households import actor_names
from crm.web import db, state
from crm.web.auth import RECRUITMENT_ROLES, current_actor, roles_required
from crm.web.forms import GovDateField, attach_errors, options

bp = Blueprint("assessment", __name__)

AUDIT_WORDS = {
    "household_document": "Document",
    "household_member": "Household member",
    "household_pet": "Pet",
    "household_check": "Check",
    "assessment_session_note": "Assessment session notes",
    "course_attendance": "Skills to Foster attendance",
    "form_f_section": "Form F section",
}
ACTION_WORDS = {
    "create": "added",
    "update": "changed",
    "erase": "removed",
    "view": "viewed",
    "export": "downloaded",
}


# -- forms ----------------------------------------------------------------------------------


class MemberForm(FlaskForm):
    kind = RadioField(
        "How are they part of the household?",
        choices=options([(k.value, k.label) for k in MemberKind]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose how they are part of the household")],
    )
    first_name = StringField("First name", widget=GovTextInput(), validators=[Length(max=100)])
    last_name = StringField("Last name", widget=GovTextInput(), validators=[Length(max=100)])
    date_of_birth = GovDateField(
        "Date of birth",
        what="Date of birth",
        description="Needed for children. For example, 27 3 2012",
    )
    relationship = StringField(
        "Relationship to the applicants (optional)",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=100)],
        description="For example, son, Sam's mother, lodger since 2024",
    )
    notes = TextAreaField(
        "Notes (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=2000)]
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class PetForm(FlaskForm):
    species = StringField(
        "Kind of animal", widget=GovTextInput(), validators=[Length(max=60)],
        description="For example, dog (breed), cat, rabbit",
    )  # fmt: skip
    name = StringField(
        "Name (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=60)]
    )
    notes = TextAreaField(
        "Notes (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=2000)]
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class CheckForm(FlaskForm):
    check_key = SelectField("Check", widget=GovSelect(), validate_choice=False)
    member_id = SelectField(
        "Who it is for", widget=GovSelect(), validate_choice=False,
        description="Leave as the household for references, the home and safety check and pets",
    )  # fmt: skip
    label = StringField(
        "Which one (optional)", widget=GovTextInput(), validators=[Optional(), Length(max=200)],
        description="The referee's name, the previous area, the employer or school",
    )  # fmt: skip
    requested_on = GovDateField("Requested on (optional)", what="Date requested")
    chased_on = GovDateField("Last chased on (optional)", what="Date chased")
    received_on = GovDateField("Received on (optional)", what="Date received")
    outcome = RadioField(
        "Outcome (once received)",
        choices=options([("", "Not received yet")] + [(o.value, o.label) for o in CheckOutcome]),
        default="",
        widget=GovRadioInput(),
        validate_choice=False,
    )
    expires_on = GovDateField(
        "Expires on (optional)",
        what="Expiry date",
        description="Left empty, a check that expires gets its usual expiry",
    )
    notes = TextAreaField(
        "Notes (optional)", widget=GovTextArea(), validators=[Optional(), Length(max=2000)]
    )
    submit = SubmitField("Save check", widget=GovSubmitInput())


class AssessorForm(FlaskForm):
    assessor_id = SelectField("Assessing social worker", widget=GovSelect(), validate_choice=False)
    submit = SubmitField("Save", widget=GovSubmitInput())


class SessionNoteForm(FlaskForm):
    outcome = RadioField(
        "How did the session go?",
        choices=options([(o.value, o.label) for o in SessionOutcome]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose how the session went")],
    )
    notes = TextAreaField(
        "What the session covered", widget=GovTextArea(), validators=[Length(max=5000)]
    )
    submit = SubmitField("Save notes", widget=GovSubmitInput())


class CourseForm(FlaskForm):
    course = StringField(
        "Course", widget=GovTextInput(), default=service.SKILLS_TO_FOSTER,
        validators=[Length(max=100)],
    )  # fmt: skip
    member_id = SelectField("Who attended", widget=GovSelect(), validate_choice=False)
    attended_from = GovDateField("First day", what="Start date")
    attended_to = GovDateField("Last day", what="End date")
    completed = BooleanField("They completed the course", widget=GovCheckboxInput(), default=True)
    submit = SubmitField("Save", widget=GovSubmitInput())


class FormFForm(FlaskForm):
    section_key = SelectField("Section", widget=GovSelect(), validate_choice=False)
    status = RadioField(
        "Status",
        choices=options([(s.value, s.label) for s in FormFStatus]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose the section's status")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class DocumentForm(FlaskForm):
    kind = RadioField(
        "What is it?",
        choices=options([(k.value, k.label) for k in DocumentKind]),
        widget=GovRadioInput(),
        validators=[InputRequired("Choose what kind of document it is")],
    )
    file = FileField("File", widget=GovFileInput())
    submit = SubmitField("Upload", widget=GovSubmitInput())


class RemoveForm(FlaskForm):
    submit = SubmitField("Remove", widget=GovSubmitInput())


# -- the household page's section and the home page's caseload --------------------------------


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@bp.app_context_processor
def _helpers() -> dict:
    return {"assessment_section": assessment_section, "assessor_caseload": assessor_caseload}


def assessment_section(household) -> dict | None:  # noqa: ANN001
    """What the household page's assessment section shows; None for someone who may not
    record it (the section is then left out)."""
    try:
        view = service.assessment_view(db(), current_actor(), household.id)
    except (NotAllowed, NotFound):
        return None
    today = clock.local_date(clock.now())
    ages = {
        m.id: members.age_on(m.date_of_birth, today)
        for m in view.tracker.members
        if m.date_of_birth is not None
    }
    listed = {m.applicant_id for m in view.tracker.members}
    return {
        "a": view,
        "ages": ages,
        "unlisted_applicants": [a for a in household.applicants if a.id not in listed],
        "names": actor_names(db()),
        "audit_words": AUDIT_WORDS,
        "action_words": ACTION_WORDS,
        "remove_form": RemoveForm(),
        "documents": documents.documents_of(db(), household.id),
    }


def assessor_caseload() -> list:
    return service.caseload(db(), current_actor())


# -- members and pets -----------------------------------------------------------------------


def _back(household_id: int):  # noqa: ANN202
    return redirect(url_for("households.show", household_id=household_id) + "#assessment")


def _page(form: FlaskForm, household, heading: str, **extra):  # noqa: ANN001, ANN202
    return render_template("assessment/form.html", form=form, h=household, heading=heading, **extra)


def _member_input(form: MemberForm) -> members.MemberInput:
    return members.MemberInput(
        kind=form.kind.data or "",
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        date_of_birth=form.date_of_birth.data,
        relationship=form.relationship.data,
        notes=form.notes.data,
    )


@bp.route("/households/<int:household_id>/members/new", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def add_member(household_id: int):
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = MemberForm()
    if form.validate_on_submit():
        try:
            members.add_member(db(), current_actor(), household.id, _member_input(form))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "first_name")
        else:
            flash("Person added to the household")
            return _back(household.id)
    return _page(form, household, "Add a person to the household")


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def edit_member(member_id: int):
    member = members.get_member(db(), current_actor(), member_id)
    household = members.household_for_assessment(db(), current_actor(), member.household_id)
    form = MemberForm(obj=member if request.method == "GET" else None)
    if request.method == "GET":
        form.kind.data = MemberKind(member.kind).value
    if form.validate_on_submit():
        try:
            members.update_member(db(), current_actor(), member.id, _member_input(form))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "first_name")
        else:
            flash("Changes saved")
            return _back(household.id)
    return _page(
        form, household, f"Change {member.full_name}'s details",
        remove_url=url_for("assessment.remove_member", member_id=member.id),
        remove_form=RemoveForm(),
    )  # fmt: skip


@bp.post("/members/<int:member_id>/remove")
@roles_required(*RECRUITMENT_ROLES)
def remove_member(member_id: int):
    member = members.get_member(db(), current_actor(), member_id)
    form = RemoveForm()
    if not form.validate_on_submit():
        abort(400)
    household_id = member.household_id
    members.remove_member(db(), current_actor(), member.id)
    flash("Person removed from the household, with their checks")
    return _back(household_id)


@bp.post("/households/<int:household_id>/members/from-applicants")
@roles_required(*RECRUITMENT_ROLES)
def add_applicants(household_id: int):
    if not RemoveForm().validate_on_submit():
        abort(400)
    added = members.add_applicants_as_members(db(), current_actor(), household_id)
    flash(f"{len(added)} applicant{'' if len(added) == 1 else 's'} added to the household")
    return _back(household_id)


@bp.route("/households/<int:household_id>/pets/new", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def add_pet(household_id: int):
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = PetForm()
    if form.validate_on_submit():
        try:
            members.add_pet(
                db(), current_actor(), household.id,
                members.PetInput(form.species.data or "", form.name.data, form.notes.data),
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "species")
        else:
            flash("Pet added")
            return _back(household.id)
    return _page(form, household, "Add a pet")


@bp.post("/pets/<int:pet_id>/remove")
@roles_required(*RECRUITMENT_ROLES)
def remove_pet(pet_id: int):
    if not RemoveForm().validate_on_submit():
        abort(400)
    household_id = _int(request.form.get("household_id"))
    members.remove_pet(db(), current_actor(), pet_id)
    flash("Pet removed")
    return _back(household_id) if household_id else redirect(url_for("home.index"))


# -- checks ---------------------------------------------------------------------------------


def _check_choices(form: CheckForm, household) -> None:  # noqa: ANN001
    config = checks.load_config()
    form.check_key.choices = options(
        [("", "Choose a check")] + [(k.key, k.label) for k in config.kinds]
    )
    form.member_id.choices = options(
        [("", "The household as a whole")]
        + [(str(m.id), m.full_name) for m in members.members_of(db(), household.id)]
    )


def _check_input(form: CheckForm) -> checks.CheckInput:
    return checks.CheckInput(
        check_key=form.check_key.data or "",
        member_id=_int(form.member_id.data),
        label=form.label.data,
        requested_on=form.requested_on.data,
        chased_on=form.chased_on.data,
        received_on=form.received_on.data,
        outcome=form.outcome.data or None,
        expires_on=form.expires_on.data,
        notes=form.notes.data,
    )


@bp.route("/households/<int:household_id>/checks/new", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def add_check(household_id: int):
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = CheckForm()
    _check_choices(form, household)
    if request.method == "GET":
        form.check_key.data = request.args.get("check", "")
        form.member_id.data = request.args.get("member", "")
        form.requested_on.data = clock.local_date(clock.now())
    if form.validate_on_submit():
        try:
            checks.add_check(db(), current_actor(), household.id, _check_input(form))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "check_key")
        else:
            flash("Check recorded")
            return _back(household.id)
    return _page(form, household, "Record a check")


@bp.route("/checks/<int:check_id>", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def edit_check(check_id: int):
    check = checks.get_check(db(), current_actor(), check_id)
    household = members.household_for_assessment(db(), current_actor(), check.household_id)
    form = CheckForm(obj=check if request.method == "GET" else None)
    _check_choices(form, household)
    if request.method == "GET":
        form.member_id.data = str(check.member_id or "")
        form.outcome.data = CheckOutcome(check.outcome).value if check.outcome else ""
    if form.validate_on_submit():
        try:
            checks.update_check(db(), current_actor(), check.id, _check_input(form))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "check_key")
        else:
            flash("Check updated")
            return _back(household.id)
    return _page(form, household, "Update a check")


# -- the assessing social worker ------------------------------------------------------------


@bp.route("/households/<int:household_id>/assessor", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def assessor(household_id: int):
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = AssessorForm()
    form.assessor_id.choices = options(
        [("", "Not assigned")]
        + [(str(s.id), s.name) for s in service.possible_assessors(db(), household)]
    )
    if request.method == "GET":
        form.assessor_id.data = str(household.assessor_id or "")
    if form.validate_on_submit():
        try:
            service.assign_assessor(
                db(), current_actor(), household.id, _int(form.assessor_id.data)
            )
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "assessor_id")
        else:
            flash("Assessing social worker saved")
            return _back(household.id)
    return _page(form, household, "Assessing social worker")


# -- sessions, Skills to Foster, Form F -------------------------------------------------------


@bp.route("/assessment-sessions/<int:appointment_id>/notes", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def session_notes(appointment_id: int):
    row = service.get_session(db(), current_actor(), appointment_id)
    household = members.household_for_assessment(
        db(), current_actor(), row.appointment.household_id
    )
    form = SessionNoteForm()
    if request.method == "GET" and row.note is not None:
        form.outcome.data = SessionOutcome(row.note.outcome).value
        form.notes.data = row.note.notes
    if form.validate_on_submit():
        try:
            service.record_session_notes(
                db(), current_actor(), appointment_id,
                outcome=form.outcome.data or "", notes=form.notes.data or "",
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "notes")
        else:
            flash("Session notes saved")
            return _back(household.id)
    return _page(form, household, "Assessment session notes", appointment=row.appointment)


@bp.route("/households/<int:household_id>/courses/new", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def add_course(household_id: int):
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = CourseForm()
    form.member_id.choices = options(
        [("", "The household")]
        + [(str(m.id), m.full_name) for m in members.members_of(db(), household.id)]
    )
    if form.validate_on_submit():
        try:
            service.add_course(
                db(), current_actor(), household.id, member_id=_int(form.member_id.data),
                attended_from=form.attended_from.data, attended_to=form.attended_to.data,
                course=form.course.data or "", completed=bool(form.completed.data),
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "course")
        else:
            flash("Training recorded")
            return _back(household.id)
    return _page(form, household, "Record Skills to Foster attendance")


@bp.route("/households/<int:household_id>/form-f", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def form_f(household_id: int):
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = FormFForm()
    form.section_key.choices = options(list(service.form_f_sections()))
    if request.method == "GET":
        form.section_key.data = request.args.get("section", "")
        current = {r.key: r.status for r in service.form_f_progress(db(), household.id)}
        if form.section_key.data in current:
            form.status.data = current[form.section_key.data].value
    if form.validate_on_submit():
        try:
            service.set_form_f_status(
                db(), current_actor(), household.id, form.section_key.data, form.status.data
            )
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "section_key")
        else:
            flash("Form F progress saved")
            return _back(household.id)
    return _page(form, household, "Form F progress")


# -- documents ----------------------------------------------------------------------------


@bp.route("/households/<int:household_id>/documents/new", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def upload_document(household_id: int):
    settings = state().settings
    # Room for the largest file allowed (and the form around it), for this request only.
    request.max_content_length = int(settings.documents.max_megabytes * 1024 * 1024) + 65536
    household = members.household_for_assessment(db(), current_actor(), household_id)
    form = DocumentForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            documents.upload(
                db(), current_actor(), settings, household.id, kind=form.kind.data,
                filename=getattr(upload, "filename", "") or "",
                content=upload.read() if upload else b"",
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "file")
        else:
            flash("Document uploaded")
            return _back(household.id)
    allowed = ", ".join(t.upper() for t in settings.documents.allowed_types)
    form.file.description = f"{allowed}; up to {settings.documents.max_megabytes:g} MB"
    return _page(form, household, "Upload a document", multipart=True)


@bp.get("/documents/<int:document_id>")
@roles_required(*RECRUITMENT_ROLES)
def document(document_id: int):
    download = request.args.get("download") == "1"
    opened = documents.open_document(
        db(), current_actor(), state().settings, document_id, download=download
    )
    doc = opened.document
    # Viewed in the browser only when it cannot run anything there; everything else downloads.
    inline = not download and doc.content_type in ("application/pdf", "image/png", "image/jpeg")
    response = Response(opened.content, mimetype=doc.content_type)
    response.headers["Content-Disposition"] = (
        f'{"inline" if inline else "attachment"}; filename="document-{doc.id}.'
        f'{doc.stored_name.rsplit(".", 1)[-1]}"'
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
