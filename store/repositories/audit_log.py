"""Reading the audit log: one organisation's rows, newest first, a page at a time.

Pages are keyed by row id (``before``), not by offset: rows keep being
added at the top while someone reads, and an offset would then show a row
twice or skip one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.addresses import AddressError, normalise_email, normalise_phone
from store.errors import AuditQueryError
from store.models import AuditEntry, Campaign, Member, Organisation
from store.repositories.guests import guests_with_addresses

PAGE_SIZE = 20
MOST_PER_PAGE = 200


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to show; every part given must hold (they combine with *and*)."""

    campaign_id: int | None = None
    guest_ids: tuple[int, ...] | None = None  # None: any; (): no guest matched
    since: datetime | None = None  # aware; rows at or after it
    before: int | None = None  # the page after the one that ended above this row id


@dataclass(frozen=True, slots=True)
class AuditQuestion:
    """An audit query as a person typed it (Slack words or CLI options), unread."""

    campaign: str | None = None
    guest: str | None = None  # an email address or a phone number
    since: str | None = None  # YYYY-MM-DD or YYYY-MM-DD HH:MM, the organisation's time
    before: str | None = None  # a row number, from the previous page's hint


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    more: bool  # older rows match too: ask again with ``before=entries[-1].id``

    @property
    def next_before(self) -> int | None:
        return self.entries[-1].id if self.more and self.entries else None


async def audit_page(
    session: AsyncSession,
    organisation_id: int,
    wanted: AuditFilter,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    if not 1 <= limit <= MOST_PER_PAGE:
        raise ValueError(f"a page holds 1 to {MOST_PER_PAGE} rows, not {limit}")
    if wanted.guest_ids == ():
        return AuditPage([], more=False)
    query = select(AuditEntry).where(AuditEntry.organisation_id == organisation_id)
    if wanted.campaign_id is not None:
        query = query.where(
            AuditEntry.entity_type == "campaign",
            AuditEntry.entity_id == str(wanted.campaign_id),
        )
    if wanted.guest_ids is not None:
        query = query.where(
            AuditEntry.entity_type == "guest",
            AuditEntry.entity_id.in_([str(guest_id) for guest_id in wanted.guest_ids]),
        )
    if wanted.since is not None:
        query = query.where(AuditEntry.created_at >= wanted.since)
    if wanted.before is not None:
        query = query.where(AuditEntry.id < wanted.before)
    rows = list(await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    return AuditPage(rows[:limit], more=len(rows) > limit)


async def member_names(session: AsyncSession, organisation_id: int) -> dict[str, str]:
    """Slack user id → the member's display name (or the id when it has none)."""
    rows = await session.execute(
        select(Member.slack_user_id, Member.display_name).where(
            Member.organisation_id == organisation_id
        )
    )
    return {user: name or user for user, name in rows}


def organisation_zone(organisation: Organisation) -> ZoneInfo:
    """The zone the organisation's audit times are shown in (UTC when it names none)."""
    try:
        return ZoneInfo(organisation.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def read_question(
    session: AsyncSession, organisation: Organisation, question: AuditQuestion
) -> tuple[AuditFilter, str]:
    """The filter a question asks for, and what it covers in words; ``AuditQueryError``
    names the part that cannot be used."""
    campaign_id = guest_ids = since = before = None
    covering: list[str] = []
    if question.campaign is not None:
        campaign_id = _number(question.campaign, "campaign")
        found = await session.scalar(
            select(Campaign.name).where(
                Campaign.id == campaign_id, Campaign.organisation_id == organisation.id
            )
        )
        if found is None:
            raise AuditQueryError(f"there is no campaign {campaign_id} in {organisation.name}")
        covering.append(f"campaign {campaign_id} “{found}”")
    if question.guest is not None:
        guests = await _guests(session, organisation, question.guest.strip())
        guest_ids = tuple(guest_id for guest_id, _ in guests)
        names = ", ".join(sorted({name for _, name in guests}))
        records = f" ({len(guests)} guest records)" if len(guests) > 1 else ""
        covering.append(f"guest {names}{records}")
    if question.since is not None:
        since = _moment(question.since, organisation_zone(organisation))
        covering.append(f"since {question.since.strip()}")
    if question.before is not None:
        before = _number(question.before.lstrip("#"), "row number")
        covering.append(f"older than #{before}")
    wanted = AuditFilter(campaign_id, guest_ids, since, before)
    return wanted, ", ".join(covering) or "everything"


def _number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 12 and int(text) > 0):
        raise AuditQueryError(f"“{text}” is not a {what}: give its number, e.g. 3")
    return int(text)


async def _guests(
    session: AsyncSession, organisation: Organisation, address: str
) -> list[tuple[int, str]]:
    try:
        if "@" in address:
            found = await guests_with_addresses(
                session, organisation.id, emails=[normalise_email(address)]
            )
        else:
            phone = normalise_phone(address, organisation.default_country)
            found = await guests_with_addresses(session, organisation.id, phones=[phone])
    except AddressError as error:
        raise AuditQueryError(
            f"{error}; name the guest by their email address or phone number"
        ) from None
    if not found:
        raise AuditQueryError(f"no guest of {organisation.name} has the address “{address}”")
    return [(guest.id, guest.name) for guest, _ in found]


def _moment(text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AuditQueryError(
            f"“{text}” is not a date: write it as YYYY-MM-DD (or YYYY-MM-DD HH:MM), in {zone.key}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
