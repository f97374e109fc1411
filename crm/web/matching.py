"""Finding a carer for a child: the search form and its results (crm.services.matching).
The page lists and explains; staff choose."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from crm.models import FosteringType, Specialism
from crm.services import matching as service
from crm.services.errors import InvalidInput
from crm.web import db
from crm.web.auth import CARER_ROLES, current_actor, roles_required

bp = Blueprint("matching", __name__, url_prefix="/matching")

FOSTERING_TYPES = [(t.value, t.value.replace("_", " ").capitalize()) for t in FosteringType]
SPECIALISMS = [
    (s.value, "Unaccompanied asylum-seeking children" if s == Specialism.UASC
     else s.value.replace("_", " ").capitalize())
    for s in Specialism
]  # fmt: skip
HOW_LONG = [(key, label) for key, (label, _) in service.HOW_LONG.items()]


@bp.get("")
@roles_required(*CARER_ROLES)
def search():
    args = request.args
    typed = {
        "ages": args.get("ages", "")[:40],
        "fostering_type": args.get("fostering_type", "")[:40],
        "specialisms": [s[:60] for s in args.getlist("specialisms")][:10],
        "how_long": args.get("how_long", "")[:20],
        "postcode": args.get("postcode", "")[:10],
    }
    result, errors = None, {}
    if "postcode" in args:
        try:
            ages = service.parse_ages(typed["ages"])
            result = service.search(
                db(), current_actor(),
                service.Needs(
                    ages=ages, fostering_type=typed["fostering_type"],
                    specialisms=typed["specialisms"], how_long=typed["how_long"],
                    postcode=typed["postcode"],
                ),
            )  # fmt: skip
        except InvalidInput as exc:
            errors = exc.errors
    return render_template(
        "matching/search.html",
        typed=typed,
        result=result,
        errors=errors,
        fostering_types=FOSTERING_TYPES,
        specialisms=SPECIALISMS,
        how_long=HOW_LONG,
    ), (400 if errors else 200)
