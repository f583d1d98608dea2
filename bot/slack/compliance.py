"""``templates`` and ``optouts``: what messages can say, and who must not get them.

Opt-outs show masked addresses (``j•••@example.com``, ``•••• •••• 4567``):
enough for a planner to recognise a guest, too little to copy a list out of
a channel. A search by the whole address finds the entry all the same — by
its keyed hash, so an erased guest's opt-out is found too.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.command_table import Command
from bot.slack.requests import CommandRequest
from bot.slack.router import BotWiring
from bot.slack.wedding_lookup import weddings_of
from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.templates import compile_template
from dispatch.compose.tokens import (
    GUEST_FIELDS,
    WEDDING_TOKENS,
    GuestFacts,
    WeddingFacts,
    token_values,
    wedding_values,
)
from handlers.address_masking import mask_email, mask_phone
from store.enums import Channel
from store.models import Organisation
from store.permissions import Action
from store.repositories.suppressions import SuppressionLedger, ledger_page

OPTOUTS_SHOWN = 20
EXAMPLE = "Hi {{first_name}}, the shuttle to {{venue_name}} leaves at 3pm. See you there!"


def register(_bolt: AsyncApp, wiring: BotWiring) -> None:
    wiring.table.add(
        Command(
            ("templates",),
            "",
            "the built-in message templates and the {{tokens}} your own text can use",
            "/comms templates",
            "Compliance",
            Action.VIEW_COMPLIANCE,
            show_templates,
        )
    )
    wiring.table.add(
        Command(
            ("optouts",),
            "[sms|email] [search]",
            "who opted out (addresses masked), with counts by reason",
            "/comms optouts sms 4567",
            "Compliance",
            Action.VIEW_COMPLIANCE,
            show_optouts,
        )
    )


async def show_templates(request: CommandRequest) -> None:
    lines = ["*Built-in templates* (name one when you create a campaign)"]
    for template in BUILTIN_TEMPLATES.values():
        lines.append(f"• `{template.key}` — {template.title}: {template.purpose}")
        lines.append(f"  SMS: {template.sms_text}")
    lines += [
        "",
        "*Tokens* for your own text, written as {{token}}:",
        "Wedding: " + ", ".join(WEDDING_TOKENS),
        "Guest: " + ", ".join(GUEST_FIELDS) + ", and any extra column of your guest list.",
        "Parts that may be missing go inside {% if token %}…{% endif %}.",
        "",
        f"*Example*: {EXAMPLE}",
    ]
    rendered = await _rendered_example(request)
    if rendered:
        lines.append(f"reads, for a guest called Jo Bloggs: {rendered}")
    await request.say("\n".join(lines))


async def _rendered_example(request: CommandRequest) -> str | None:
    """The example filled in with the organisation's first wedding, when there is one."""
    async with request.services.database.reading() as session:
        weddings = await weddings_of(session, request.caller.organisation.id)
        organisation = await session.get(Organisation, request.caller.organisation.id)
    if not weddings or organisation is None:
        return None
    facts = WeddingFacts.of(weddings[0], organisation)
    values = token_values(wedding_values(facts), GuestFacts(id=0, name="Jo Bloggs"))
    return compile_template(EXAMPLE, html=False, part="example").render(values)


async def show_optouts(request: CommandRequest) -> None:
    words = list(request.arguments)
    channel = None
    if words and words[0].lower() in ("sms", "email"):
        channel = Channel(words.pop(0).lower())
    search = " ".join(words).strip()
    organisation = request.caller.organisation
    async with request.services.database.reading() as session:
        entries, total = await ledger_page(
            session, organisation.id, channel, search, OPTOUTS_SHOWN, organisation.default_country
        )
        by_reason = await SuppressionLedger(session).count_by_reason(organisation.id)
    scope = f"{channel.value.upper() if channel == Channel.SMS else 'email'} " if channel else ""
    matching = f" matching “{search}”" if search else ""
    heading = f"{organisation.name}: {total} active {scope}opt-out{'s' * (total != 1)}{matching}"
    if total > len(entries):
        heading += f" (the newest {len(entries)})"
    lines = [heading + "."]
    for entry in entries:
        if entry.address is None:
            masked = "an erased guest's address"
        elif entry.channel == Channel.EMAIL:
            masked = mask_email(entry.address)
        else:
            masked = mask_phone(entry.address)
        lines.append(
            f"• {masked} ({entry.channel.value}) — {entry.reason.value}, from {entry.source}, "
            f"{entry.created_at.date().isoformat()}"
        )
    if by_reason:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(by_reason.items()))
        lines.append(f"All active opt-outs by reason: {reasons}.")
    lines.append("Only the guest can undo an opt-out (START by text, or resubscribing by email).")
    await request.say("\n".join(lines))
