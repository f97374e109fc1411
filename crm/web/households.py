"""Households: the searchable list (with CSV/Excel export), the household page with its
timeline, and the actions on it (note, call, move stage, visits, assign, task)."""

from __future__ import annotations

import io
from datetime import datetime, time

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import select

from crm import clock
from crm.exports import SafeCsvWriter, safe_row
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Area,
    Campaign,
    ConsentScope,
    EnquiryChannel,
    Reason,
    Source,
    StaffUser,
    Stage,
    TaskKind,
)
from crm.services import access, booking, kinship
from crm.services import appointments as appointment_service
from crm.services import households as service
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    create_enquiry,
    validate_enquiry,
)
from crm.services.errors import InvalidInput, NotAllowed, SlotTaken
from crm.services.pipeline import REASON_LISTS, move_stage
from crm.services.tasks import create_task
from crm.services.timeline import log_activity
from crm.web import db, state
from crm.web.auth import RECRUITMENT_ROLES, current_actor, roles_required
from crm.web.filters import govuk_time_range, local_date
from crm.web.forms import (
    TIME_TAKEN,
    AssignForm,
    CallForm,
    CancelForm,
    ConsentForm,
    DetailsForm,
    HomeVisitForm,
    MoveForm,
    NoteForm,
    SlotChoiceForm,
    StaffEnquiryForm,
    TaskForm,
    attach_errors,
    merge_errors,
    options,
)

bp = Blueprint("households", __name__, url_prefix="/households")
VISIT_KINDS = (
    AppointmentKind.INITIAL_VISIT,
    AppointmentKind.INFORMATION_SESSION,
    AppointmentKind.ASSESSMENT_SESSION,
)
# Visits that take place in the household's home: booking or moving one asks for the address.
AT_HOME = frozenset(
    {
        AppointmentKind.INITIAL_VISIT,
        AppointmentKind.ASSESSMENT_SESSION,
        AppointmentKind.SUPERVISION_VISIT,
        AppointmentKind.ANNUAL_REVIEW,
    }
)


# Where a list's page starts: the page links set these, filters and downloads never carry them.
PAGE_ARGS = frozenset({"page", "after", "before"})


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def query_from_args(args) -> service.HouseholdQuery:  # noqa: ANN001
    return service.HouseholdQuery(
        q=args.get("q", "")[:200],
        stage=args.get("stage", "") if args.get("stage", "") in Stage._value2member_map_ else "",
        area_id=_int(args.get("area")),
        officer_id=_int(args.get("officer")),
        source_key=args.get("source", "")[:40],
        campaign_id=_int(args.get("campaign")),
        pathway=args.get("pathway", "") if args.get("pathway", "") in service.PATHWAYS else "",
        sort=args.get("sort", ""),
        page=_int(args.get("page")) or 1,
        after=args.get("after", "")[:80],
        before=args.get("before", "")[:80],
    )


def filter_choices() -> dict:
    session = db()
    actor = current_actor()
    areas = session.exec(select(Area).where(Area.active.is_(True)).order_by(Area.name)).all()
    if actor.role != "admin":
        areas = [a for a in areas if a.id in actor.area_ids]
    officers = session.exec(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)
    ).all()
    return {
        "areas": [(a.id, a.name) for a in areas],
        "officers": [(o.id, o.name) for o in officers if o.role != "admin"],
        "sources": [(s.key, s.label) for s in session.exec(select(Source).order_by(Source.label))],
        "campaigns": [
            (c.id, c.name) for c in session.exec(select(Campaign).order_by(Campaign.name))
        ],
        "stages": [(s.value, s.label) for s in Stage],
        "pathways": list(service.PATHWAYS.items()),
    }


@bp.get("")
@roles_required(*RECRUITMENT_ROLES)
def index():
    query = query_from_args(request.args)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return _export(query, fmt)
    page = service.search_households(db(), current_actor(), query)
    args = {k: v for k, v in request.args.items() if k not in PAGE_ARGS and v}
    # htmx asks for the results alone; restoring history (going back) needs the whole page.
    partial = request.headers.get("HX-Request") and not request.headers.get(
        "HX-History-Restore-Request"
    )
    response = make_response(
        render_template(
            "households/_results.html" if partial else "households/index.html",
            page=page,
            query=query,
            args=args,
            choices=filter_choices(),
            sorts=[
                ("enquired_desc", "Newest enquiry first"),
                ("enquired_asc", "Oldest enquiry first"),
                ("stage_time_asc", "Longest in stage first"),
                ("updated_desc", "Recently updated first"),
                ("reference", "Reference"),
            ],
        )
    )
    # The same address answers with a page or a part of one: caches must tell them apart.
    response.vary.update(("HX-Request", "HX-History-Restore-Request"))
    return response


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def new():
    """An enquiry taken by phone, email or at an event, typed in by staff."""
    session = db()
    form = StaffEnquiryForm()
    form.source_key.choices = options(
        [("", "Choose")]
        + [
            (s.key, s.label)
            for s in session.exec(
                select(Source).where(Source.active.is_(True)).order_by(Source.label)
            )
        ]
    )
    form.campaign_name.choices = options(
        [("", "None")]
        + [
            (c.name, c.name)
            for c in session.exec(
                select(Campaign).where(Campaign.active.is_(True)).order_by(Campaign.name)
            )
        ]
    )
    if request.method == "POST":
        valid = form.validate_on_submit()
        consents = {}
        if form.consent.data:
            consents[ConsentScope.STORE_DETAILS] = (
                f"Agreed by {form.consent_how.data or 'phone'} that we may keep their details "
                "to answer their enquiry, after hearing the privacy notice summary"
            )
        else:
            form.consent.errors = [
                *form.consent.errors,
                "Ask whether we may keep their details, and tick the box",
            ]
            valid = False
        data = EnquiryInput(
            applicant=ApplicantDetails(
                form.first_name.data or "", form.last_name.data or "",
                email=form.email.data, phone=form.phone.data,
            ),
            enquiry_channel=EnquiryChannel.STAFF,
            postcode=form.postcode.data,
            source_key=form.source_key.data or None,
            campaign_name=form.campaign_name.data or None,
            interests=form.interests.data or None,
            is_kinship=bool(form.is_kinship.data),
            consents=consents,
        )  # fmt: skip
        try:
            # Every problem in one round: the form's and the service's.
            validate_enquiry(session, data)
        except InvalidInput as exc:
            merge_errors(form, exc.errors, "first_name")
            valid = False
        if valid:
            try:
                result = create_enquiry(session, current_actor(), data, state().settings)
            except InvalidInput as exc:
                attach_errors(form, exc.errors, "first_name")
            except NotAllowed as exc:
                # Keep what was typed; say why it cannot be added here.
                attach_errors(form, {"email": str(exc)}, "first_name")
            else:
                flash(
                    "New enquiry recorded"
                    if result.created
                    else "They are already on our books: the new enquiry is on their timeline"
                )
                return redirect(url_for("households.show", household_id=result.household.id))
    return render_template("households/new.html", form=form)


def _export(query: service.HouseholdQuery, fmt: str) -> Response:
    header, rows = service.export_rows(db(), current_actor(), query)
    stamp = datetime.now().strftime("%Y%m%d-%H%M")  # noqa: DTZ005 - a file name only
    if fmt == "csv":
        buffer = io.StringIO()
        # Cells starting with = + - @ would run as formulas in a spreadsheet: neutralised.
        writer = SafeCsvWriter(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(
            buffer.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename=households-{stamp}.csv"},
        )
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Households")
    sheet.append(header)
    for row in rows:
        sheet.append(safe_row(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Response(
        buffer.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=households-{stamp}.xlsx"},
    )


def _household(household_id: int):  # noqa: ANN202
    household = service.get_household(db(), current_actor(), household_id)
    if household.anonymised_at is not None:
        abort(404)
    return household


@bp.get("/<int:household_id>")
@roles_required(*RECRUITMENT_ROLES)
def show(household_id: int):
    view = service.household_view(db(), current_actor(), state().settings, household_id)
    household = view.household
    return render_template(
        "households/show.html",
        view=view,
        h=household,
        temporary_approvals=kinship.history(db(), household.id) if household.is_kinship else [],
        today=clock.now().astimezone(state().settings.tz).date(),
    )


# -- actions ------------------------------------------------------------------------------


@bp.route("/<int:household_id>/note", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def note(household_id: int):
    household = _household(household_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            log_activity(
                db(), current_actor(), household.id, "note",
                summary=form.summary.data, body=form.body.data or None,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "summary")
        else:
            flash("Note added")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template("households/action.html", form=form, h=household, heading="Add a note")


@bp.route("/<int:household_id>/details", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def details(household_id: int):
    household = _household(household_id)
    form = DetailsForm()
    people = {a.position: a for a in household.applicants}
    if request.method == "GET":
        for prefix, position in (("", 1), ("second_", 2)):
            person = people.get(position)
            if person is not None:
                for name in ("first_name", "last_name", "email", "phone"):
                    getattr(form, prefix + name).data = getattr(person, name)
        for name in ("address_line_1", "address_line_2", "town", "postcode"):
            getattr(form, name).data = getattr(household, name)
        form.preferred_channel.data = household.preferred_channel or ""
    if form.validate_on_submit():
        applicants = [
            service.ApplicantChange(
                form.first_name.data, form.last_name.data, form.email.data, form.phone.data,
                people[1].date_of_birth if 1 in people else None,
            )
        ]  # fmt: skip
        second = [form.second_first_name.data, form.second_last_name.data,
                  form.second_email.data, form.second_phone.data]  # fmt: skip
        if any((v or "").strip() for v in second):
            applicants.append(
                service.ApplicantChange(*second, people[2].date_of_birth if 2 in people else None)
            )
        change = service.DetailsChange(
            applicants=applicants,
            address_line_1=form.address_line_1.data,
            address_line_2=form.address_line_2.data,
            town=form.town.data,
            postcode=form.postcode.data,
            preferred_channel=form.preferred_channel.data or None,
        )
        try:
            service.update_details(db(), current_actor(), household.id, change)
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "first_name")
        else:
            flash("Details saved")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template("households/details.html", form=form, h=household)


@bp.route("/<int:household_id>/consent", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def consent(household_id: int):
    household = _household(household_id)
    form = ConsentForm()
    if form.validate_on_submit():
        try:
            service.record_consent(
                db(), current_actor(), household.id, scope=form.scope.data,
                granted=form.granted.data == "yes", wording=form.wording.data or "",
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "wording")
        else:
            flash("Consent recorded")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template(
        "households/action.html", form=form, h=household, heading="Record consent"
    )


@bp.route("/<int:household_id>/call", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def call(household_id: int):
    household = _household(household_id)
    form = CallForm()
    if form.validate_on_submit():
        try:
            log_activity(
                db(), current_actor(), household.id, "call",
                summary=form.summary.data, body=form.body.data or None,
                call_outcome=form.call_outcome.data,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "summary")
        else:
            flash("Call logged")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template("households/action.html", form=form, h=household, heading="Log a call")


def _move_choices(form: MoveForm, household) -> None:  # noqa: ANN001
    """The stages this household can move to, each leaving stage with its own reasons."""
    view_moves, reopen_moves = [], []
    from crm.services.pipeline import classify_move

    for stage in Stage:
        try:
            move = classify_move(db(), household, stage)
        except InvalidInput:
            continue
        (reopen_moves if move.needs_reopen else view_moves).append(stage)
    form.to_stage.choices = options(
        [(s.value, s.label) for s in view_moves]
        + [(s.value, f"{s.label} (reopen)") for s in reopen_moves]
    )
    reasons = (
        db()
        .exec(select(Reason).where(Reason.active.is_(True)).order_by(Reason.kind, Reason.label))
        .all()
    )
    for kind in {k.value for k in REASON_LISTS.values()}:
        field = form.reason_field(kind)
        blank = "No reason" if kind == "on_hold" else "Choose a reason"
        field.choices = options(
            [("", blank)] + [(r.code, r.label) for r in reasons if r.kind == kind]
        )


def _reason_kind(to_stage: str | None) -> str | None:
    """The list of reasons a move to this stage takes, if any."""
    if not to_stage or to_stage not in Stage._value2member_map_:
        return None
    kind = REASON_LISTS.get(Stage(to_stage))
    return kind.value if kind else None


@bp.route("/<int:household_id>/move", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def move(household_id: int):
    household = _household(household_id)
    form = MoveForm()
    if request.method == "GET" and request.args.get("to"):
        form.to_stage.data = request.args["to"]
    _move_choices(form, household)
    if form.validate_on_submit():
        kind = _reason_kind(form.to_stage.data)
        reason = form.reason_field(kind)
        try:
            move_stage(
                db(), current_actor(), household.id, form.to_stage.data,
                reason_code=(reason.data or None) if reason else None,
                reason_text=form.reason_text.data or None,
                reopen=bool(form.reopen.data),
            )  # fmt: skip
        except InvalidInput as exc:
            errors = dict(exc.errors)
            if "reason_code" in errors:
                # Shown against the list the person chose from.
                errors[MoveForm.reason_field_name(kind) if kind else "to_stage"] = errors.pop(
                    "reason_code"
                )
            attach_errors(form, errors, "to_stage")
        else:
            flash(f"Moved to {Stage(form.to_stage.data).label}")
            return redirect(_back_to(household.id))
    return render_template(
        "households/move.html", form=form, h=household,
        reason_kinds={s.value: k.value for s, k in REASON_LISTS.items()},
        back=request.args.get("back", ""),
    )  # fmt: skip


def _back_to(household_id: int) -> str:
    back = request.args.get("back", "")
    if back.startswith("/pipeline") and not back.startswith("//"):
        return back
    return url_for("households.show", household_id=household_id)


@bp.route("/<int:household_id>/assign", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def assign(household_id: int):
    household = _household(household_id)
    form = AssignForm()
    staff = access.possible_officers(db(), household)
    form.officer_id.choices = options(
        [("", "Nobody (team queue)")]
        + [(str(s.id), f"{s.name} ({s.role.replace('_', ' ')})") for s in staff]
    )
    if request.method == "GET":
        form.officer_id.data = str(household.assigned_officer_id or "")
    if form.validate_on_submit():
        try:
            service.assign_officer(db(), current_actor(), household.id, _int(form.officer_id.data))
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "officer_id")
        else:
            flash("Assignment saved")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template("households/action.html", form=form, h=household, heading="Assign")


@bp.route("/<int:household_id>/task", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def task(household_id: int):
    household = _household(household_id)
    form = TaskForm()
    # Only people who may be given it (crm.services.access); the form refuses any other id.
    staff = access.possible_owners(db(), household=household)
    form.owner_id.choices = options(
        [("", "The team (no one person)")] + [(str(s.id), s.name) for s in staff]
    )
    if request.method == "GET" and any(s.id == current_actor().user_id for s in staff):
        form.owner_id.data = str(current_actor().user_id)
    if form.validate_on_submit():
        due_at = datetime.combine(form.due_on.data, time(17, 0), state().settings.tz)
        try:
            create_task(
                db(), current_actor(), kind=TaskKind.GENERAL, title=form.title.data,
                detail=form.detail.data or None, due_at=due_at, household_id=household.id,
                owner_id=_int(form.owner_id.data), priority=form.priority.data,
            )  # fmt: skip
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "title")
        else:
            flash("Task created")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template(
        "households/action.html", form=form, h=household, heading="Create a task"
    )


# -- visits -------------------------------------------------------------------------------


def _slot_choices(form: SlotChoiceForm, household, kind: AppointmentKind) -> dict:  # noqa: ANN001
    slots = appointment_service.slots_for_area(
        db(), state().settings, household.area_id, kind=kind, working_days=10
    )
    names = dict(db().exec(select(StaffUser.id, StaffUser.name)).all())
    offered = {}
    for slot in slots:
        key = f"{slot.staff_id}|{slot.starts_at.isoformat()}"
        offered[key] = slot
    # "Tue 10 Mar, 9:30am to 11am with Sam": GOV.UK times, as on every page.
    form.slot.choices = options([
        (key, f"{local_date(s.starts_at, '%a %-d %b')}, "
              f"{govuk_time_range(s.starts_at, s.ends_at)} with {names.get(s.staff_id, '')}")
        for key, s in offered.items()
    ])  # fmt: skip
    return offered


def _slot_form(kind: AppointmentKind) -> SlotChoiceForm:
    return HomeVisitForm() if kind in AT_HOME else SlotChoiceForm()


def _home_address(household) -> str:  # noqa: ANN001
    parts = [household.address_line_1, household.address_line_2, household.town, household.postcode]
    return ", ".join(p.strip() for p in parts if p and p.strip())


@bp.route("/<int:household_id>/visits/book", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def book_visit(household_id: int):
    household = _household(household_id)
    kind_value = request.args.get("kind", AppointmentKind.INITIAL_VISIT.value)
    if kind_value not in {k.value for k in VISIT_KINDS}:
        abort(404)
    kind = AppointmentKind(kind_value)
    form = _slot_form(kind)
    if request.method == "GET" and kind in AT_HOME:
        form.location.data = _home_address(household)
    offered = _slot_choices(form, household, kind)
    if form.validate_on_submit():
        slot = offered[form.slot.data]
        location = (form.location.data or "").strip() or None
        try:
            if kind == AppointmentKind.INITIAL_VISIT:
                # The household is told of the visit (as when they book it themselves), and
                # the chaser to offer them one closes, in the same transaction.
                booking.book_initial_visit(
                    db(), current_actor(), state().settings, household.id, slot.starts_at,
                    booked_via="staff", staff_ids=[slot.staff_id], location=location,
                )  # fmt: skip
            else:
                appointment_service.book_appointment(
                    db(), current_actor(), state().settings, staff_id=slot.staff_id, kind=kind,
                    starts_at=slot.starts_at, household_id=household.id, location=location,
                )  # fmt: skip
        except SlotTaken:
            form.slot.errors = [TIME_TAKEN]
            offered = _slot_choices(form, household, kind)
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "slot")
            offered = _slot_choices(form, household, kind)
        else:
            flash(f"{kind.label} booked")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template(
        "households/book.html", form=form, h=household, kind=kind, kinds=VISIT_KINDS
    )


def _appointment(household, appointment_id: int) -> Appointment:  # noqa: ANN001
    appointment = db().get(Appointment, appointment_id)
    if appointment is None or appointment.household_id != household.id:
        abort(404)
    if appointment.status != AppointmentStatus.BOOKED:
        abort(404)
    return appointment


@bp.route("/<int:household_id>/visits/<int:appointment_id>/move", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def move_visit(household_id: int, appointment_id: int):
    household = _household(household_id)
    appointment = _appointment(household, appointment_id)
    kind = AppointmentKind(appointment.kind)
    form = _slot_form(kind)
    if request.method == "GET":
        form.location.data = appointment.location or (
            _home_address(household) if kind in AT_HOME else ""
        )
    offered = _slot_choices(form, household, kind)
    if form.validate_on_submit():
        slot = offered[form.slot.data]
        try:
            # They are told the new time, with the calendar invite updated (same entry).
            booking.move_visit(
                db(), current_actor(), state().settings, appointment.id,
                starts_at=slot.starts_at, staff_id=slot.staff_id, booked_via="staff",
                location=(form.location.data or "").strip() or None,
            )  # fmt: skip
        except SlotTaken:
            form.slot.errors = [TIME_TAKEN]
            offered = _slot_choices(form, household, kind)
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "slot")
            offered = _slot_choices(form, household, kind)
        else:
            flash("Visit moved")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template(
        "households/book.html", form=form, h=household, kind=kind, moving=appointment
    )


@bp.route("/<int:household_id>/visits/<int:appointment_id>/cancel", methods=["GET", "POST"])
@roles_required(*RECRUITMENT_ROLES)
def cancel_visit(household_id: int, appointment_id: int):
    household = _household(household_id)
    appointment = _appointment(household, appointment_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            appointment_service.cancel_appointment(
                db(), current_actor(), appointment.id, reason=form.reason.data
            )
        except InvalidInput as exc:
            attach_errors(form, exc.errors, "reason")
        else:
            flash("Visit cancelled")
            return redirect(url_for("households.show", household_id=household.id))
    return render_template(
        "households/action.html",
        form=form,
        h=household,
        heading="Cancel a visit",
        appointment=appointment,
    )
