"""Normalising what people type: emails, UK phone numbers, UK postcodes.

Each function returns the canonical form or raises ValueError with a message for the person.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# The GOV.UK data standard pattern for a UK postcode, applied after removing spaces.
_POSTCODE = re.compile(
    r"^(GIR0AA|[A-PR-UWYZ]([0-9]{1,2}|([A-HK-Y][0-9]([0-9ABEHMNPRV-Y])?)|[0-9][A-HJKPS-UW])"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)


# Ofcom keeps these ranges for drama and training: never a real person, so demos, training and
# tests use them. libphonenumber calls them invalid, so they are allowed explicitly.
_OFCOM_DRAMA = re.compile(r"^\+44(7700900|1632960|1134960|1144960|1154960|1174960|1184960)\d{3}$")


def normalise_email(raw: str) -> str:
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(
            "Enter an email address in the correct format, like name@example.com"
        ) from None
    return result.normalized.lower()


def normalise_phone(raw: str) -> str:
    """E.164 form; numbers without a country code are taken as UK numbers."""
    try:
        number = phonenumbers.parse(raw.strip(), "GB")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None:
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number) or _OFCOM_DRAMA.match(e164):
            return e164
    raise ValueError("Enter a telephone number, like 01632 960 001 or 07700 900 982")


def format_phone(e164: str) -> str:
    """For showing staff: the national format for UK numbers."""
    number = phonenumbers.parse(e164, "GB")
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 44
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


def normalise_postcode(raw: str) -> str:
    """'le16zg' -> 'LE1 6ZG'."""
    compact = re.sub(r"\s+", "", raw).upper()
    if not _POSTCODE.match(compact):
        raise ValueError("Enter a real UK postcode, like LE1 6ZG")
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_district(postcode: str) -> str:
    """The outward code of a normalised postcode: 'LE1 6ZG' -> 'LE1'."""
    return postcode.split(" ")[0]
