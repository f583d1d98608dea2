"""Providers' delivery reports applied: the delivery moves forward only, a refusal teaches
the ledger, and a report that outran our record of the send is kept until it can apply.

Twilio may report on a text within milliseconds of accepting it, while the
worker that sent it still holds the result in a batch it has not committed.
Such a report is kept (``early_delivery_reports``) and the scheduler's tick
applies it once the send is recorded; one never recorded is dropped after a
day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.feedback import learn_from_failure
from dispatch.metric_tally import MetricTally
from dispatch.providers.twilio_sms import suppression_for
from dispatch.runtime import Runtime
from store.audit import Actor
from store.enums import Channel, DeliveryStatus, SuppressionReason
from store.repositories.provider_reports import (
    Report,
    ReportedDelivery,
    early_reports,
    forget_early,
    is_known,
    keep_early,
    record_report,
)

KEEP_EARLY = timedelta(days=1)
REPLAY_AT_ONCE = 500


@dataclass(frozen=True, slots=True)
class Applied:
    """What a report changed: the delivery it moved (None: nothing moved), the reason an
    address was newly suppressed for, and whether it was kept to apply later."""

    moved: ReportedDelivery | None = None
    suppressed: SuppressionReason | None = None
    kept: bool = False


async def apply_report(
    session: AsyncSession, report: Report, now: datetime, actor: Actor
) -> Applied:
    """Apply one report in the caller's transaction."""
    moved = await record_report(
        session,
        provider=report.provider,
        provider_message_id=report.provider_message_id,
        status=report.status,
        now=now,
        error_code=report.error_code,
        error_message=report.error_message,
        from_states=report.from_states,
    )
    if moved is None:
        if await is_known(session, report.provider, report.provider_message_id):
            return Applied()  # a repeat, or behind what is recorded
        await keep_early(session, report, now)
        return Applied(kept=True)
    if report.status == DeliveryStatus.DELIVERED or moved.channel != Channel.SMS:
        return Applied(moved)
    # Email refusals come as bounce and complaint events, which suppress by themselves.
    reason = suppression_for(report.error_code)
    added = await learn_from_failure(
        session,
        actor,
        organisation_id=moved.organisation_id,
        channel=Channel.SMS,
        address=moved.address,
        code=report.error_code,
        suppress=reason,
        source=f"{report.provider}_status",
    )
    return Applied(moved, (reason or SuppressionReason.INVALID) if added else None)


def count_report(tally: MetricTally, report: Report, applied: Applied, now: datetime) -> None:
    """The figures of a report that moved a message (as the web process counts them)."""
    if applied.moved is None:
        return
    labels = {"channel": applied.moved.channel.value, "provider": report.provider}
    if report.status == DeliveryStatus.DELIVERED:
        tally.count("messages.delivered", now, **labels)
    else:
        tally.count("messages.undelivered", now, status=report.status.value, **labels)


async def apply_early_reports(runtime: Runtime) -> int:
    """The scheduler's part: apply kept reports whose send is now recorded; how many."""
    now = runtime.clock()
    tally = MetricTally()
    applied_ids: list[int] = []
    async with runtime.database.transaction() as session:
        for kept in await early_reports(session, REPLAY_AT_ONCE):
            if not await is_known(session, kept.provider, kept.provider_message_id):
                continue
            report = Report(
                kept.provider,
                kept.provider_message_id,
                kept.status,
                kept.error_code,
                kept.error_message,
            )
            applied = await apply_report(session, report, now, Actor("provider", kept.provider))
            count_report(tally, report, applied, now)
            applied_ids.append(kept.id)
        await forget_early(session, applied_ids, now - KEEP_EARLY)
    await tally.flush(runtime.database)
    return len(applied_ids)
