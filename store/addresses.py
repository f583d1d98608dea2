"""One normal form per address, so guests, the ledger and webhooks agree on "the same number".

Phones become E.164 (``+14155550123``); emails are validated without DNS and
lower-cased whole (no mainstream provider treats the local part's case as
significant, and a STOP must match however the planner typed the address).
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat


class AddressError(ValueError):
    """The text is not a usable address; the message says why, for a planner."""


def normalise_email(raw: str) -> str:
    candidate = raw.strip()
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise AddressError(f"“{candidate}” is not a valid email address: {error}") from None
    return result.normalized.lower()


def normalise_phone(raw: str, default_country: str) -> str:
    candidate = raw.strip()
    region = default_country.upper()
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException:
        raise AddressError(f"“{candidate}” is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        hint = "" if candidate.startswith("+") else f" (read as a {region} number)"
        raise AddressError(f"“{candidate}” is not a valid phone number{hint}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
