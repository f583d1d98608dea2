"""Guests' replies in the wedding's channel: threaded per guest, opt-outs summarised,
likely opt-outs as a review card.

Each pass of the notifier hands over the guest events it claimed. The events
carry ids only; names and words are read here, at the moment of posting (an
erased guest's event has nothing left to show and is dropped), and so is
the client with the bot token of the organisation's own workspace (an
organisation without one has nowhere to show them: its events are dropped,
as for a wedding without a channel).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable

import structlog
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack.campaign_progress import STALE_CLAIM
from bot.slack.guest_note_text import GuestNote, opt_out_summary, review_card, thread_note
from bot.slack.requests import post
from bot.slack.services import BotServices
from bot.slack.slack_failures import try_again_later
from bot.slack.workspace_clients import WorkspaceClients
from store.enums import InboundClass
from store.models import Guest, InboundMessage, Organisation, Wedding
from store.repositories.outbox import OutboxEvent
from store.repositories.slack_messages import (
    GUEST_THREAD,
    OPT_OUT_REVIEW,
    OPT_OUT_SUMMARY,
    SlackMessages,
)

log = structlog.get_logger(__name__)

GUEST_KINDS = ("guest.replied", "guest.unsubscribed", "guest.resubscribed")
_OPT_OUT = {InboundClass.OPT_OUT.value}
_OPT_IN = {InboundClass.OPT_IN.value}


class WeddingPlace:
    """A wedding's channel, the client that posts there, and what its messages name."""

    def __init__(
        self, wedding: Wedding, organisation: Organisation, client: AsyncWebClient
    ) -> None:
        self.client = client
        self.organisation_id = organisation.id
        self.channel_id = wedding.slack_channel_id or ""
        self.couple_names = wedding.couple_names
        self.sms_number = organisation.sms_number


class GuestNotes:
    def __init__(self, services: BotServices, clients: WorkspaceClients) -> None:
        self.services = services
        self.clients = clients

    async def handle(self, events: list[OutboxEvent]) -> list[int]:
        """Post what the events say; returns the ids to give back for the next pass."""
        notes, places = await self._read(events)
        retry: list[int] = []
        summaries: dict[int, tuple[list[GuestNote], list[GuestNote]]] = defaultdict(
            lambda: ([], [])
        )
        for wedding_id, note in notes:
            if _is_opt_out(note):
                summaries[wedding_id][0].append(note)
            elif _is_opt_in(note):
                summaries[wedding_id][1].append(note)
            elif note.classification == InboundClass.LIKELY_OPT_OUT.value:
                retry += await self._guarded([note], self._review(note, places[wedding_id]))
            else:
                retry += await self._guarded([note], self._thread(note, places[wedding_id]))
        for wedding_id, (opted_out, opted_in) in summaries.items():
            retry += await self._guarded(
                opted_out + opted_in,
                self._summary(places[wedding_id], opted_out, opted_in),
            )
        return retry

    async def _guarded(self, notes: list[GuestNote], posting: Awaitable[bool]) -> list[int]:
        ids = [note.event_id for note in notes]
        try:
            return [] if await posting else ids
        except Exception as error:
            if try_again_later(error):
                return ids  # Slack is busy: the next pass posts them
            log.exception("could not tell the planners about guests' replies", events=ids)
            return []

    async def _read(
        self, events: list[OutboxEvent]
    ) -> tuple[list[tuple[int, GuestNote]], dict[int, WeddingPlace]]:
        guest_ids = {e.payload.get("guest_id") for e in events} - {None}
        message_ids = {e.payload.get("inbound_message_id") for e in events} - {None}
        async with self.services.database.reading() as session:
            rows = await session.execute(
                select(Guest, Wedding, Organisation)
                .join(Wedding, Wedding.id == Guest.wedding_id)
                .join(Organisation, Organisation.id == Wedding.organisation_id)
                .where(Guest.id.in_(guest_ids))
            )
            found = {guest.id: (guest, wedding, org) for guest, wedding, org in rows}
            bodies = {
                row.id: row.body
                for row in await session.execute(
                    select(InboundMessage.id, InboundMessage.body).where(
                        InboundMessage.id.in_(message_ids)
                    )
                )
            }
        clients: dict[int, AsyncWebClient | None] = {}
        for _guest, _wedding, organisation in found.values():
            if organisation.id not in clients:
                clients[organisation.id] = await self.clients.for_organisation(organisation.id)
        notes: list[tuple[int, GuestNote]] = []
        places: dict[int, WeddingPlace] = {}
        for event in events:
            guest_id = event.payload.get("guest_id")
            if guest_id not in found:
                continue  # a number that is no guest's, or a guest since erased
            guest, wedding, organisation = found[guest_id]
            client = clients[organisation.id]
            if not wedding.slack_channel_id or organisation.id != event.organisation_id:
                continue  # the organisation has no place for it
            if client is None:
                continue  # nor a workspace the app is installed in
            places[wedding.id] = WeddingPlace(wedding, organisation, client)
            note = GuestNote(
                event_id=event.id,
                kind=event.kind,
                classification=event.payload.get("classification"),
                guest_id=guest.id,
                guest_name=guest.name,
                party_size=guest.party_size,
                channel=str(event.payload.get("channel", "")),
                body=bodies.get(int(event.payload.get("inbound_message_id") or 0)),
                rsvp=event.payload.get("rsvp"),
                suppressed=bool(event.payload.get("suppressed", True)),
            )
            notes.append((wedding.id, note))
        return notes, places

    async def _thread(self, note: GuestNote, place: WeddingPlace) -> bool:
        """The guest's first note starts their thread; later ones answer in it."""
        now = self.services.clock()
        text = thread_note(note)
        async with self.services.database.transaction() as session:
            messages = SlackMessages(session)
            row = await messages.find(GUEST_THREAD, guest_id=note.guest_id)
            if row is None:
                claimed = await messages.claim(
                    place.organisation_id,
                    GUEST_THREAD,
                    place.channel_id,
                    now,
                    guest_id=note.guest_id,
                )
            elif not row.ts:
                taken = await messages.take_over(row.id, now - STALE_CLAIM, now)
                claimed = row.id if taken else None
            elif row.channel_id != place.channel_id:
                claimed = row.id  # the wedding moved channels: a new thread there
            else:
                claimed = None
        if row is not None and row.ts and row.channel_id == place.channel_id:
            await post(place.client, row.channel_id, text, thread_ts=row.ts)
            return True
        if claimed is None:
            return False  # another process is starting this guest's thread
        try:
            ts = await post(place.client, place.channel_id, text)
        except BaseException:
            if row is None:
                async with self.services.database.transaction() as session:
                    await SlackMessages(session).unclaim(claimed)
            raise
        async with self.services.database.transaction() as session:
            await SlackMessages(session).posted(claimed, place.channel_id, ts, None, now)
        return True

    async def _summary(
        self, place: WeddingPlace, opted_out: list[GuestNote], opted_in: list[GuestNote]
    ) -> bool:
        text = opt_out_summary(place.couple_names, opted_out, opted_in)
        ts = await post(place.client, place.channel_id, text)
        async with self.services.database.transaction() as session:
            messages = SlackMessages(session)
            now = self.services.clock()
            claimed = await messages.claim(
                place.organisation_id, OPT_OUT_SUMMARY, place.channel_id, now
            )
            assert claimed is not None
            await messages.posted(claimed, place.channel_id, ts, None, now)
        return True

    async def _review(self, note: GuestNote, place: WeddingPlace) -> bool:
        now = self.services.clock()
        async with self.services.database.transaction() as session:
            claimed = await SlackMessages(session).claim(
                place.organisation_id, OPT_OUT_REVIEW, place.channel_id, now, guest_id=note.guest_id
            )
        assert claimed is not None  # review cards are not unique: one per reply
        text, blocks = review_card(note, claimed, place.sms_number)
        try:
            ts = await post(place.client, place.channel_id, text, blocks)
        except BaseException:
            async with self.services.database.transaction() as session:
                await SlackMessages(session).unclaim(claimed)
            raise
        async with self.services.database.transaction() as session:
            await SlackMessages(session).posted(claimed, place.channel_id, ts, None, now)
        return True


def _is_opt_out(note: GuestNote) -> bool:
    return note.kind == "guest.unsubscribed" or (
        note.kind == "guest.replied" and note.classification in _OPT_OUT
    )


def _is_opt_in(note: GuestNote) -> bool:
    return note.kind == "guest.resubscribed" or (
        note.kind == "guest.replied" and note.classification in _OPT_IN
    )
