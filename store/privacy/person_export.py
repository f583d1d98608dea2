"""Everything held about one person, as one self-describing JSON document.

A top-level key per kind of data, each a list of rows; ``request`` says who
asked for whom, when, and how many rows of each kind there are; ``about``
says in a sentence what each kind is. The export itself is audited with
counts only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.audit import Actor, AuditRecord
from store.database import keyring_of
from store.models import (
    AuditEntry,
    Campaign,
    Delivery,
    EmailEngagement,
    Event,
    InboundMessage,
    Member,
    SlackMessage,
    Suppression,
)
from store.models.base import utcnow
from store.privacy import holdings
from store.privacy.person import Person
from store.repositories.consents import consent_history
from store.repositories.guests import groups_by_guest

FORMAT = "guestcomms person export, version 1"
ABOUT = {
    "guests": "Their rows in the guest lists of the organisation's weddings.",
    "consents": "Every record of their agreement (or its withdrawal) to messages, oldest first.",
    "deliveries": "Each message of a campaign meant for them: where, its status, and when.",
    "email_engagements": "Opens and clicks of their emails (only where tracking was on).",
    "inbound_messages": "The texts and emails they sent us.",
    "suppressions": (
        "Their entries on the opt-out list. An address shown as null was erased earlier; "
        "the entry still holds, by a keyed hash of the address."
    ),
    "audit_log": (
        "Changes to their data and the changes they made, as the audit log records them "
        "(it holds no addresses, names or message texts)."
    ),
    "slack_messages": (
        "Messages in the planners' Slack that show their replies (the texts are in Slack, "
        "not here)."
    ),
    "events": "Notices of their replies and unsubscribes waiting for, or sent to, Slack.",
    "members": "Their own membership of the organisation, if they are also a member.",
}


async def export_person(session: AsyncSession, actor: Actor, person: Person) -> dict[str, Any]:
    """The document; call inside a write transaction (the export is audited)."""
    data = await _collect(session, person)
    counts = {kind: len(rows) for kind, rows in data.items()}
    document: dict[str, Any] = {
        "request": {
            "format": FORMAT,
            "organisation": person.organisation.name,
            "asked_for": {"channel": person.asked_for[0].value, "address": person.asked_for[1]},
            "addresses": [
                {"channel": channel.value, "address": address}
                for channel, address in sorted(person.addresses)
            ],
            "generated_at": _value(utcnow()),
            "generated_by": str(actor),
            "counts": counts,
        },
        "about": ABOUT,
        **data,
    }
    await audit.record_one(
        session,
        actor,
        AuditRecord(
            person.organisation.id,
            "person.exported",
            "organisation",
            person.organisation.id,
            after={
                "channel": person.asked_for[0].value,
                "guest_ids": person.guest_ids,
                "counts": counts,
            },
        ),
    )
    return document


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


async def _collect(session: AsyncSession, person: Person) -> dict[str, list[dict[str, Any]]]:
    groups: dict[int, list[str]] = {}
    for wedding_id in {wedding.id for _, wedding in person.guests}:
        groups.update(await groups_by_guest(session, wedding_id, person.guest_ids))
    guests = [
        {
            "id": guest.id,
            "wedding": {
                "slug": wedding.slug,
                "couple_names": wedding.couple_names,
                "wedding_date": _value(wedding.wedding_date),
            },
            **_fields(
                guest,
                "name email phone rsvp_status party_size dietary_requirements plus_one "
                "custom_fields preferred_channel timezone created_at updated_at",
            ),
            "groups": groups.get(guest.id, []),
        }
        for guest, wedding in person.guests
    ]
    consents = [
        _fields(r, "guest_id channel granted source text_shown recorded_by created_at")
        for r in await consent_history(session, person.guest_ids)
    ]
    delivery_rows = (
        await session.execute(
            select(Delivery, Campaign.name)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(holdings.deliveries(person))
            .order_by(Delivery.id)
        )
    ).all()
    deliveries = [
        {
            "campaign": {"id": delivery.campaign_id, "name": name},
            **_fields(
                delivery,
                "id guest_id channel address status skip_reason attempts provider "
                "provider_message_id error_code error_message sent_at delivered_at created_at",
            ),
        }
        for delivery, name in delivery_rows
    ]
    engagements = await _rows(
        session,
        EmailEngagement,
        holdings.engagements(person),
        "delivery_id kind url ignored_because user_agent created_at",
    )
    messages = list(
        await session.scalars(
            select(InboundMessage)
            .where(holdings.inbound_messages(person))
            .order_by(InboundMessage.id)
        )
    )
    entries = list(
        await session.scalars(
            select(Suppression)
            .where(holdings.suppressions(person, keyring_of(session)))
            .order_by(Suppression.id)
        )
    )
    audit_rows = await _rows(
        session,
        AuditEntry,
        holdings.audit_rows(person, [e.id for e in entries], [m.id for m in messages]),
        "created_at actor action entity_type entity_id before after",
    )
    return {
        "guests": guests,
        "consents": consents,
        "deliveries": deliveries,
        "email_engagements": engagements,
        "inbound_messages": [
            _fields(
                m,
                "id guest_id channel provider from_address to_address body classification "
                "received_at",
            )
            for m in messages
        ],
        "suppressions": [
            _fields(e, "channel address reason source detail created_at lifted_at lifted_source")
            for e in entries
        ],
        "audit_log": audit_rows,
        "slack_messages": await _rows(
            session,
            SlackMessage,
            holdings.slack_messages(person),
            "guest_id purpose channel_id ts thread_ts created_at closed_at",
        ),
        "events": await _rows(
            session, Event, holdings.events(person), "kind payload created_at handled_at"
        ),
        "members": await _rows(
            session, Member, holdings.members(person), "display_name email phone role created_at"
        ),
    }


async def _rows(
    session: AsyncSession, model: Any, condition: Any, names: str
) -> list[dict[str, Any]]:
    rows = await session.scalars(select(model).where(condition).order_by(model.id))
    return [_fields(row, names) for row in rows]


def _fields(row: object, names: str) -> dict[str, Any]:
    return {name: _value(getattr(row, name)) for name in names.split()}


def _value(value: object) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    return value


def summary(document: dict[str, Any]) -> list[str]:
    """The export in a few lines, for the person who asked for it."""
    request = document["request"]
    counts: dict[str, int] = request["counts"]
    held = [f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items() if count]
    weddings = sorted({g["wedding"]["couple_names"] for g in document["guests"]})
    lines = [
        f"Everything {request['organisation']} holds about {request['asked_for']['address']}"
        + (f" (also known by {_others(request)})" if len(request["addresses"]) > 1 else "")
        + ":",
        ", ".join(held) + "." if held else "Nothing at all.",
    ]
    if weddings:
        lines.append("Guest of: " + ", ".join(weddings) + ".")
    return lines


def _others(request: dict[str, Any]) -> str:
    asked = request["asked_for"]["address"]
    others: Iterable[str] = (a["address"] for a in request["addresses"] if a["address"] != asked)
    return ", ".join(others)
