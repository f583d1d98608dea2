"""One batch: claim due deliveries, check them again, send, record — never twice, never lost.

The broker message names an id range; the database says what in it is
still pending. At claim time an opt-out, a missing consent or the guest's
quiet hours win over the plan made at approval. Results are recorded in
small groups as they arrive, guarded by the lease, so a worker killed
mid-batch leaves only a few rows for the reconciler to settle.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update

from dispatch.campaign_states import campaign_states
from dispatch.completion import complete_if_done
from dispatch.compose.composer import (
    CampaignContent,
    Composer,
    OrganisationFacts,
    sending_channels,
)
from dispatch.compose.dkim_signing import add_dkim_signature
from dispatch.compose.quiet_hours import guest_zones, in_quiet_hours, next_allowed
from dispatch.compose.tokens import GuestFacts, WeddingFacts
from dispatch.compose.tracking_links import Tracking
from dispatch.errors import TemplateRefused
from dispatch.feedback import learn_from_failure
from dispatch.ledger_checks import LedgerChecks, ledger_checks
from dispatch.limits import Grant
from dispatch.metric_tally import MetricTally
from dispatch.pacing import Turns
from dispatch.providers.base import (
    Accepted,
    Outcome,
    OutgoingEmail,
    ProviderError,
    SenderBusy,
)
from dispatch.recipients import NO_SMS_CONSENT
from dispatch.runtime import BatchRef, Runtime
from dispatch.shared_settle import shared_settle
from store.audit import SYSTEM
from store.enums import CampaignState, Channel, DeliveryStatus
from store.models import Campaign, Event, Guest, Organisation, Wedding
from store.repositories.consents import consenting_guest_ids
from store.repositories.deliveries import Claimed, DeliveryRepository
from store.repositories.deliveries import Outcome as Settled
from store.repositories.guests import groups_by_guest
from store.repositories.suppressions import SuppressionLedger
from store.tiers import limits_for

RECORD_EVERY = 25
# Outcomes that put a delivery back to wait: a campaign cancelled meanwhile
# must turn them into "cancelled", which needs its state read in the same
# transaction.
_HELD = frozenset({DeliveryStatus.PENDING, DeliveryStatus.DEFERRED})

log = structlog.get_logger(__name__)


@dataclass
class _Batch:
    runtime: Runtime
    ref: BatchRef
    campaign: Campaign
    organisation: Organisation
    lease_until: datetime
    # This claim's own token: other batches of the same worker process must
    # never settle rows that were taken from us and claimed again.
    owner: str
    pending: list[Settled] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    not_sent: int = 0
    # Successes are told to the breaker in groups (a Redis call each time);
    # failures at once, since they may open it.
    _successes: dict[str, int] = field(default_factory=dict)
    _open_until: dict[str, float] = field(default_factory=dict)
    _ledger: LedgerChecks | None = None
    # Sent / failed / latency, written as minute buckets when the batch ends.
    tally: MetricTally = field(default_factory=MetricTally)

    async def record(
        self,
        outcome: Settled,
        feedback: ProviderError | None = None,
        claimed: Claimed | None = None,
        *,
        at_once: bool = False,
    ) -> None:
        """Queue an outcome; written in groups, or ``at_once`` where a lost record
        would mean a second copy (a non-idempotent email provider)."""
        self.pending.append(outcome)
        if outcome.status != DeliveryStatus.SENT:
            self.not_sent += 1
        if feedback is not None and claimed is not None:
            await self.flush(feedback=(claimed, feedback))
        elif at_once or len(self.pending) >= RECORD_EVERY:
            await self.flush()

    async def leave_to_reconciler(self, item: Claimed) -> None:
        """The provider may have taken it: no retry; the reconciler asks first."""
        self.uncertain.append(item.id)
        await self.flush()

    async def flush(self, feedback: tuple[Claimed, ProviderError] | None = None) -> None:
        if not self.pending and feedback is None and not self.uncertain:
            return
        outcomes, self.pending = self.pending, []
        uncertain, self.uncertain = self.uncertain, []
        if feedback is None and not uncertain and not any(o.status in _HELD for o in outcomes):
            # Only final outcomes (each email as SMTP takes it): one guarded
            # UPDATE, atomic per row, needs no transaction around it, and goes
            # with those of this process's other batches (dispatch/shared_settle.py).
            await shared_settle(self.runtime.database).settle(
                self.owner, outcomes, self.runtime.clock()
            )
            return
        async with self.runtime.database.transaction() as session:
            deliveries = DeliveryRepository(session)
            now = self.runtime.clock()
            state = await session.scalar(
                select(Campaign.state).where(Campaign.id == self.campaign.id)
            )
            if state == CampaignState.CANCELLED:
                # Cancelled while we held them: what did not go never will.
                outcomes = [
                    replace(o, status=DeliveryStatus.CANCELLED) if o.status in _HELD else o
                    for o in outcomes
                ]
            await deliveries.settle(self.owner, outcomes, now)
            if uncertain:
                await deliveries.expire_leases(self.owner, uncertain, now)
            if feedback is not None:
                claimed, error = feedback
                await learn_from_failure(
                    session,
                    SYSTEM,
                    organisation_id=self.organisation.id,
                    channel=claimed.channel,
                    address=claimed.address,
                    code=error.code,
                    suppress=error.suppress,
                    source=f"{self.runtime.provider_name(claimed.channel)}:{error.code or 'error'}",
                )

    async def opted_out(self, item: Claimed) -> Settled | datetime:
        """The ledger's answer right before sending, not the one from the claim: the
        suppressed outcome, or the moment the check that cleared the text began."""
        if self._ledger is None:
            self._ledger = ledger_checks(
                self.runtime.database, self.organisation.id, self.runtime.clock
            )
        answer = await self._ledger.check(item.channel, item.address)
        if answer.reason is None:
            return answer.asked_at
        return Settled(
            item.id, DeliveryStatus.SUPPRESSED, skip_reason=f"suppressed:{answer.reason}"
        )

    async def still_sending(self) -> bool:
        """Whether the campaign is still sending (as read within the last second, the
        read shared by this process's batches): a pause or cancel stops a batch
        between two messages, not only at its next claim."""
        state = await campaign_states(self.runtime.database).state(self.campaign.id)
        return state == CampaignState.SENDING

    async def provider_down(self, key: str) -> bool:
        """The breaker's state, asked at most once every half second per provider."""
        now = time.monotonic()
        if self._open_until.get(key, 0) > now:
            return True
        cached = self._open_until.get(key + ":checked", 0)
        if now - cached < 0.5:
            return False
        decision = await self.runtime.breaker.check(key)
        self._open_until[key + ":checked"] = now
        if decision.state == "open":
            self._open_until[key] = now + 0.5
            return True
        return False

    def provider_opened(self, key: str) -> None:
        self._open_until[key] = time.monotonic() + 0.5

    async def succeeded(self, key: str) -> None:
        self._successes[key] = self._successes.get(key, 0) + 1
        if self._successes[key] >= RECORD_EVERY:
            await self.tell_breaker()

    async def tell_breaker(self) -> None:
        successes, self._successes = self._successes, {}
        for key, count in successes.items():
            change = await self.runtime.breaker.record(key, True, count)
            if change is not None:
                await _announce_breaker(self.runtime, key, change)

    def seconds_left(self) -> float:
        """Until no new send may start (the lease's end less the margin)."""
        margin = timedelta(seconds=self.runtime.settings.lease_margin_seconds)
        return (self.lease_until - margin - self.runtime.clock()).total_seconds()

    def lease_left(self) -> bool:
        return self.seconds_left() > 0


async def process_batch(runtime: Runtime, ref: BatchRef) -> None:
    """Work through one range of a campaign's deliveries (the actor's whole body)."""
    now = runtime.clock()
    async with runtime.database.reading() as session:
        campaign = await session.get(Campaign, ref.campaign_id)
        organisation = (
            await session.get(Organisation, campaign.organisation_id) if campaign else None
        )
    if campaign is None or organisation is None or campaign.state != CampaignState.SENDING:
        return  # paused, cancelled or finished: nothing in this range may be claimed
    channels, reopen_at = await _channels_open(runtime, campaign)
    if (
        campaign.allow_fallback
        and Channel.SMS.value in campaign.channels
        and Channel.SMS not in channels
    ):
        await _fall_back_to_email(runtime, ref)
    if not channels:
        runtime.enqueue(ref, max(1.0, (reopen_at or now).timestamp() - now.timestamp()))
        return
    async with runtime.database.reading() as session:
        due = await DeliveryRepository(session).count_due(
            ref.campaign_id, ref.first_id, ref.last_id, channels, now
        )
    if due == 0:
        await _follow_up(runtime, ref, campaign, channels, reopen_at)
        await complete_if_done(runtime, ref.campaign_id)
        return
    grant = (
        await runtime.tier_limiter.reserve(organisation.id, limits_for(organisation.tier), due, now)
        if runtime.settings.enforce_hourly_and_daily_limits
        else Grant(due, None)
    )
    if grant.granted == 0:
        await _throttle(runtime, ref, grant.retry_at or now + timedelta(hours=1))
        return
    # Never more than a batch: ranges rebuilt from scattered rows can be wide.
    limit = min(grant.granted, runtime.settings.batch_size)
    lease_until = now + timedelta(seconds=_lease_seconds(runtime, limit))
    owner = f"{runtime.worker_id}:{uuid.uuid4().hex[:12]}"
    async with runtime.database.transaction() as session:
        claimed = await DeliveryRepository(session).claim(
            ref.campaign_id,
            ref.first_id,
            ref.last_id,
            channels=channels,
            limit=limit,
            owner=owner,
            lease_until=lease_until,
            now=now,
        )
    if runtime.settings.enforce_hourly_and_daily_limits:
        await runtime.tier_limiter.give_back(organisation.id, grant.granted - len(claimed), now)
    batch = _Batch(runtime, ref, campaign, organisation, lease_until, owner)
    if claimed:
        started = time.monotonic()
        try:
            await _send_claimed(batch, claimed)
        finally:
            # Whatever happened, what is known is written; rows not settled
            # keep their lease and the reconciler settles them.
            await batch.flush()
            await batch.tell_breaker()
            batch.tally.observe(
                "batch.duration_ms", 1000 * (time.monotonic() - started), runtime.clock()
            )
            await batch.tally.flush(runtime.database)
        if runtime.settings.enforce_hourly_and_daily_limits:
            # Quota is spent by messages sent, not by rows claimed and let go.
            await runtime.tier_limiter.give_back(organisation.id, batch.not_sent, now)
    if grant.retry_at is not None:
        await _throttle(runtime, ref, grant.retry_at)
    else:
        await _follow_up(runtime, ref, campaign, channels, reopen_at)
    await complete_if_done(runtime, ref.campaign_id)


async def _follow_up(
    runtime: Runtime,
    ref: BatchRef,
    campaign: Campaign,
    open_channels: list[Channel],
    reopen_at: datetime | None,
) -> None:
    """Come back when the range has work again: a retry's backoff ends, a breaker
    reopens, or rows were left because the claim was capped."""
    now = runtime.clock()
    closed = [c for c in sending_channels(campaign) if c not in open_channels]
    async with runtime.database.reading() as session:
        deliveries = DeliveryRepository(session)
        next_open = await deliveries.next_due(
            ref.campaign_id, ref.first_id, ref.last_id, open_channels
        )
        next_closed = (
            await deliveries.next_due(ref.campaign_id, ref.first_id, ref.last_id, closed)
            if closed
            else None
        )
    times = [t for t in (next_open,) if t is not None]
    if next_closed is not None:
        times.append(max(next_closed, reopen_at or now))
    if times:
        delay = max(0.0, (min(times) - now).total_seconds())
        # A little jitter, so retries of many batches do not arrive together.
        runtime.enqueue(ref, delay + random.uniform(0, 0.2) if delay else 0)  # noqa: S311


def _lease_seconds(runtime: Runtime, count: int) -> float:
    """Long enough for the batch at the sender's pace, plus the safety margin."""
    settings = runtime.settings
    pacing = count * settings.sms_pace.spacing
    return settings.lease_seconds + pacing + settings.lease_margin_seconds


async def _channels_open(
    runtime: Runtime, campaign: Campaign
) -> tuple[list[Channel], datetime | None]:
    """Channels whose provider's breaker lets calls through, and when the others reopen."""
    allowed: list[Channel] = []
    reopen: list[float] = []
    for channel in sorted(sending_channels(campaign)):
        decision = await runtime.breaker.check(runtime.provider_name(channel))
        if decision.allowed:
            allowed.append(channel)
        elif decision.retry_at is not None:
            reopen.append(decision.retry_at)
    first_reopen = (
        datetime.fromtimestamp(min(reopen), tz=runtime.clock().tzinfo) if reopen else None
    )
    return allowed, first_reopen


async def _fall_back_to_email(runtime: Runtime, ref: BatchRef) -> None:
    """The SMS provider is down and the campaign allows it: email those who have an address."""
    async with runtime.database.transaction() as session:
        created = await DeliveryRepository(session).fall_back_to_email(
            ref.campaign_id, ref.first_id, ref.last_id, runtime.clock()
        )
    if created:
        runtime.enqueue(BatchRef(ref.campaign_id, min(created), max(created)), 0)


async def _throttle(runtime: Runtime, ref: BatchRef, until: datetime) -> None:
    """Over the tier's hourly or daily limit: wait for the next window, never fail.

    The range's pending deliveries are deferred to the window's start, when
    the scheduler's tick wakes them, and the campaign shows "throttled until".
    """
    async with runtime.database.transaction() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == ref.campaign_id)
            .values(throttled_until=until)
            .execution_options(synchronize_session=False)
        )
        await DeliveryRepository(session).hold_range(
            ref.campaign_id, ref.first_id, ref.last_id, until, runtime.clock()
        )


async def _send_claimed(batch: _Batch, claimed: Sequence[Claimed]) -> None:
    runtime, campaign, organisation = batch.runtime, batch.campaign, batch.organisation
    async with runtime.database.reading() as session:
        wedding = await session.get(Wedding, campaign.wedding_id)
        assert wedding is not None
        guest_ids = [c.guest_id for c in claimed if c.guest_id is not None]
        guests = {
            g.id: g for g in await session.scalars(select(Guest).where(Guest.id.in_(guest_ids)))
        }
        groups = await groups_by_guest(session, wedding.id, guest_ids)
        suppressed = await SuppressionLedger(session).active_among(
            organisation.id, [(c.channel, c.address) for c in claimed]
        )
        consent = await consenting_guest_ids(session, wedding.id, Channel.SMS, guest_ids)
    facts = {gid: GuestFacts.of(guest, groups.get(gid, ())) for gid, guest in guests.items()}
    composer = Composer(
        CampaignContent.of(campaign),
        WeddingFacts.of(wedding, organisation),
        OrganisationFacts.of(organisation, runtime.settings.email_from),
        for_sending=True,
    )
    now = runtime.clock()
    to_sms: list[tuple[Claimed, GuestFacts]] = []
    to_email: list[tuple[Claimed, GuestFacts]] = []
    for item in claimed:
        guest = facts.get(item.guest_id) if item.guest_id is not None else None
        reason = _recheck(item, guest, suppressed, consent)
        if reason is not None:
            await batch.record(reason)
            continue
        assert guest is not None
        if item.channel == Channel.SMS and not campaign.day_of_logistics:
            zones = guest_zones(guest.timezone, item.address, wedding.timezone)
            if in_quiet_hours(now, zones):
                await batch.record(
                    Settled(
                        item.id,
                        DeliveryStatus.DEFERRED,
                        skip_reason="quiet_hours",
                        not_before=next_allowed(now, zones),
                    )
                )
                continue
        (to_sms if item.channel == Channel.SMS else to_email).append((item, guest))
    await asyncio.gather(_send_sms(batch, composer, to_sms), _send_email(batch, composer, to_email))


def _recheck(
    item: Claimed,
    guest: GuestFacts | None,
    suppressed: dict[tuple[Channel, str], str],
    consent: frozenset[int],
) -> Settled | None:
    """At claim time the ledger and the consent records win over the approved plan."""
    if guest is None:
        return Settled(item.id, DeliveryStatus.SKIPPED, skip_reason="guest_removed")
    if (item.channel, item.address) in suppressed:
        return Settled(
            item.id,
            DeliveryStatus.SUPPRESSED,
            skip_reason=f"suppressed:{suppressed[item.channel, item.address]}",
        )
    if item.channel == Channel.SMS and guest.id not in consent:
        return Settled(item.id, DeliveryStatus.SKIPPED, skip_reason=NO_SMS_CONSENT)
    return None


async def _send_sms(
    batch: _Batch, composer: Composer, items: Sequence[tuple[Claimed, GuestFacts]]
) -> None:
    runtime = batch.runtime
    limit = asyncio.Semaphore(runtime.settings.send_concurrency)
    provider = runtime.sms
    name = runtime.provider_name(Channel.SMS)
    # Real time: the pacer is shared with other processes.
    turns = Turns(runtime.pacer, provider.sender, runtime.settings.sms_pace, len(items))

    async def send_one(item: Claimed, guest: GuestFacts) -> None:
        async def clear() -> datetime | None:
            # Pacing can hold a text for seconds: a STOP answered meanwhile wins.
            answer = await batch.opted_out(item)
            if isinstance(answer, Settled):
                await batch.record(answer)
                return None
            return answer

        async with limit:
            # Composed before the turn: the moment of sending is the request alone.
            text = composer.sms_text(guest)
            while True:
                # Stop if the breaker opened during this batch ("half open" means this
                # batch is the probe, and its first answer decides), or the campaign
                # was paused or cancelled.
                if (
                    not batch.lease_left()
                    or await batch.provider_down(name)
                    or not await batch.still_sending()
                ):
                    await batch.record(_release(item))
                    return
                if provider.paced:
                    turn = await turns.take(time.time() + batch.seconds_left(), clear)
                    if not turn.granted:
                        await batch.record(_release(item))
                        return
                    cleared = turn.cleared
                else:
                    cleared = await clear()
                if cleared is None:
                    return  # opted out: recorded as suppressed
                started = time.monotonic()
                try:
                    outcome: Outcome = await provider.send_sms(item.address, text)
                except ProviderError as error:
                    outcome = error
                seconds = time.monotonic() - started
                if isinstance(outcome, SenderBusy) and provider.paced:
                    # Too fast for the carrier: not taken, not a failure; the next turn.
                    batch.tally.count(
                        "messages.rate_limited",
                        runtime.clock(),
                        channel=Channel.SMS.value,
                        provider=provider.name,
                    )
                    continue
                await _record_outcome(batch, item, outcome, provider.name, name, seconds, cleared)
                return

    await asyncio.gather(*(send_one(item, guest) for item, guest in items))


async def _send_email(
    batch: _Batch, composer: Composer, items: Sequence[tuple[Claimed, GuestFacts]]
) -> None:
    if not items:
        return
    runtime = batch.runtime
    name = runtime.provider_name(Channel.EMAIL)
    cleared = runtime.clock()  # before the query: its snapshot is no older
    async with runtime.database.reading() as session:
        suppressed = await SuppressionLedger(session).active_among(
            batch.organisation.id, [(Channel.EMAIL, item.address) for item, _ in items]
        )
    still: list[tuple[Claimed, GuestFacts]] = []
    for item, guest in items:
        if (Channel.EMAIL, item.address) in suppressed:
            reason = suppressed[Channel.EMAIL, item.address]
            await batch.record(
                Settled(item.id, DeliveryStatus.SUPPRESSED, skip_reason=f"suppressed:{reason}")
            )
        else:
            still.append((item, guest))
    items = still
    emails: list[OutgoingEmail] = []
    composed: list[tuple[Claimed, GuestFacts]] = []
    for item, guest in items:
        try:
            parts = composer.email_parts(
                guest,
                campaign_id=batch.campaign.id,
                tokens=runtime.tokens,
                public_base_url=runtime.settings.public_base_url,
                sent_at=runtime.clock(),
                to_address=item.address,
                tracking=_tracking(runtime, batch.organisation, item.id),
            )
        except (TemplateRefused, ValueError) as error:
            await batch.record(
                Settled(
                    item.id,
                    DeliveryStatus.FAILED,
                    error_message=f"the email could not be composed: {error}",
                )
            )
            continue
        emails.append(OutgoingEmail(parts, idempotency_key=f"delivery-{item.id}"))
        composed.append((item, guest))
    items = composed
    settings = runtime.settings
    if settings.dkim_private_key and settings.dkim_selector and settings.dkim_domain:
        for email in emails:
            add_dkim_signature(
                email.message,
                selector=settings.dkim_selector,
                domain=settings.dkim_domain,
                private_key_pem=settings.dkim_private_key.get_secret_value(),
            )
    sent: set[int] = set()
    # Until when the provider asked us to wait (its rate limit): what is left waits too.
    held_until: datetime | None = None
    async with runtime.email.session() as session:
        started = time.monotonic()
        async for index, outcome in session.send_all(emails):
            sent.add(index)
            # Emails go one after another on one connection: each took the time since the last.
            seconds, started = time.monotonic() - started, time.monotonic()
            if isinstance(outcome, Accepted | SenderBusy) and outcome.refusals:
                # The provider's "too fast" answers: a pace, not errors.
                batch.tally.add(
                    "messages.rate_limited",
                    runtime.clock(),
                    outcome.refusals,
                    {"channel": Channel.EMAIL.value, "provider": runtime.email.name},
                )
            if isinstance(outcome, Accepted):
                seconds -= outcome.waited_seconds  # waiting its turn is not latency
            if isinstance(outcome, SenderBusy):
                # Not taken, and not a failure: no attempt spent, and the provider
                # answered, which a half-open breaker needs to hear.
                await batch.succeeded(name)
                # Its own waits are over (see the provider): at least a second more.
                wait = max(outcome.retry_after or 0.0, 1.0)
                held_until = runtime.clock() + timedelta(seconds=wait)
                sent.discard(index)
                break
            await _record_outcome(
                batch, items[index][0], outcome, runtime.email.name, name, seconds, cleared
            )
            if not batch.lease_left() or not await batch.still_sending():
                break
    for index, (item, _) in enumerate(items):
        if index not in sent:
            await batch.record(_release(item, not_before=held_until))


def _release(item: Claimed, *, not_before: datetime | None = None) -> Settled:
    """Back to pending, untried (the claim's attempt is undone): the lease ran short,
    the provider's breaker opened, the pacer had no slot in time, or the provider
    asked us to wait (then not before ``not_before``)."""
    return Settled(item.id, DeliveryStatus.PENDING, untried=True, not_before=not_before)


async def _record_outcome(
    batch: _Batch,
    item: Claimed,
    outcome: Outcome,
    provider: str,
    breaker_key: str,
    seconds: float,
    cleared: datetime,
) -> None:
    runtime = batch.runtime
    _count_outcome(batch.tally, runtime.clock(), item.channel, provider, outcome, seconds)
    if isinstance(outcome, Accepted):
        # The record first: nothing after the provider's yes may lose it.
        await batch.record(
            Settled(
                item.id,
                DeliveryStatus.SENT,
                provider=provider,
                provider_message_id=outcome.provider_message_id,
                cleared_at=cleared,
            ),
            at_once=item.channel == Channel.EMAIL and not runtime.email.idempotent,
        )
        await batch.succeeded(breaker_key)
        return
    # Refused for pace is the provider working as it should, not failing.
    change = (
        None
        if isinstance(outcome, SenderBusy)
        else await runtime.breaker.record(breaker_key, not outcome.transient)
    )
    if change is not None:
        await _announce_breaker(runtime, breaker_key, change)
    if change == "opened":
        batch.provider_opened(breaker_key)
    if (
        outcome.ambiguous
        and item.channel == Channel.SMS
        and item.attempts < runtime.settings.max_attempts
    ):
        await batch.leave_to_reconciler(item)
        return
    if outcome.transient and item.attempts < runtime.settings.max_attempts:
        # Exponential backoff with jitter, per delivery; _follow_up comes back then.
        backoff = min(300, 2**item.attempts) * random.uniform(0.8, 1.2)  # noqa: S311
        await batch.record(
            Settled(
                item.id,
                DeliveryStatus.PENDING,
                provider=provider,
                error_code=outcome.code,
                error_message=str(outcome),
                not_before=runtime.clock() + timedelta(seconds=backoff),
            )
        )
        return
    # The provider's reason often names the address ("The 'To' number … is not valid");
    # the log's redactor (bot/log_setup.py) takes it out before the line is written.
    log.warning(
        "delivery failed",
        delivery=item.id,
        channel=item.channel.value,
        provider=provider,
        code=outcome.code,
        reason=str(outcome),
    )
    batch.tally.count(
        "messages.failed",
        runtime.clock(),
        channel=item.channel.value,
        provider=provider,
        error_class=_error_class(outcome),
    )
    await batch.record(
        Settled(
            item.id,
            DeliveryStatus.FAILED,
            provider=provider,
            error_code=outcome.code,
            error_message=str(outcome),
        ),
        feedback=outcome,
        claimed=item,
    )


def _error_class(error: ProviderError) -> str:
    if error.ambiguous:
        return "ambiguous"
    return "temporary" if error.transient else "permanent"


def _count_outcome(
    tally: MetricTally,
    now: datetime,
    channel: Channel,
    provider: str,
    outcome: Outcome,
    seconds: float,
) -> None:
    """Every provider call: the error rate is errors / attempts, the latency its mean."""
    labels = {"channel": channel.value, "provider": provider}
    tally.count("messages.attempts", now, **labels)
    tally.observe("system.processing.latency_ms", 1000 * seconds, now, **labels)
    if isinstance(outcome, Accepted):
        tally.count("messages.sent", now, **labels)
    else:
        tally.count("messages.errors", now, error_class=_error_class(outcome), **labels)


async def _announce_breaker(runtime: Runtime, provider: str, change: str) -> None:
    async with runtime.database.transaction() as session:
        session.add(
            Event(
                kind=f"breaker.{change}",
                payload={"provider": provider, "at": runtime.clock().isoformat()},
            )
        )


def _tracking(runtime: Runtime, organisation: Organisation, delivery_id: int) -> Tracking | None:
    if not organisation.email_tracking or runtime.tracking is None:
        return None
    return Tracking(runtime.tracking, runtime.settings.public_base_url, delivery_id)
