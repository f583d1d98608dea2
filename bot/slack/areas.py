"""Every area of the bot, in the order they register."""

from __future__ import annotations

from bot.slack import (
    alerts,
    audit,
    campaign_commands,
    campaign_recovery,
    compliance,
    following,
    guest_import,
    guest_privacy,
    guests,
    help,
    member_contact,
    members,
    organisation,
    stats,
    weddings,
)
from bot.slack.bolt_app import Area

AREAS: list[Area] = [
    help.register,
    weddings.register,
    organisation.register,
    guests.register,
    guest_import.register,
    guest_privacy.register,
    members.register,
    member_contact.register,
    audit.register,
    compliance.register,
    stats.register,
    campaign_commands.register,
    campaign_recovery.register,
    following.register,
    alerts.register,
]
