"""Addresses as a page shows them: enough for a guest to recognise, too little to harvest.

Unsubscribe links get forwarded, and a page anyone with the link can open
must not reveal where the guest can be reached.
"""

from __future__ import annotations

MASK = "•••"


def mask_email(address: str) -> str:
    """``jane.doe@example.com`` → ``j•••@example.com``."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return MASK
    return f"{local[0]}{MASK}@{domain}"


def mask_phone(number: str) -> str:
    """``+14155554567`` → ``•••• •••• 4567``: the last four digits only."""
    digits = [character for character in number if character.isdigit()]
    if len(digits) < 8:
        # Too short for four to stay hidden: show none.
        return "•••• ••••"
    return f"•••• •••• {''.join(digits[-4:])}"
