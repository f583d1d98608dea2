"""What a campaign's progress message and final report say, in words first.

The bar is decoration: the same line says the percentage and the counts in
words, so a screen reader (and the notification) reads everything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from store.enums import CampaignState
from store.repositories.campaign_figures import Figures

BAR_WIDTH = 10
RETRY_ACTION = "campaign_retry_failed"

_STATE_WORDS = {
    CampaignState.SENDING: "Sending",
    CampaignState.PAUSED: "Paused",
    CampaignState.COMPLETED: "Finished",
    CampaignState.FAILED: "Finished: nothing could be sent",
    CampaignState.CANCELLED: "Cancelled",
}


@dataclass(frozen=True, slots=True)
class Followed:
    """A campaign as its messages describe it."""

    id: int
    organisation_id: int
    name: str
    state: CampaignState
    figures: Figures
    throttled_until: datetime | None
    timezone: str


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    blocks: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        content = json.dumps([self.text, self.blocks], sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()


def bar(done: int, total: int) -> str:
    filled = BAR_WIDTH if total == 0 else done * BAR_WIDTH // total
    return "[" + "█" * filled + "░" * (BAR_WIDTH - filled) + "]"


def percent(done: int, total: int) -> int:
    return 100 if total == 0 else done * 100 // total


def throttle_note(campaign: Followed, now: datetime) -> str | None:
    until = campaign.throttled_until
    if until is None or until <= now:
        return None
    zone = ZoneInfo(campaign.timezone)
    local = until.astimezone(zone)
    day = "" if local.date() == now.astimezone(zone).date() else local.strftime(" on %a %d %b")
    return (
        f"Throttled until {local:%H:%M}{day} ({campaign.timezone}): sending limits were "
        "reached, the rest goes out then."
    )


def progress_message(campaign: Followed, now: datetime) -> Rendered:
    figures = campaign.figures
    state = _STATE_WORDS.get(campaign.state, campaign.state.value)
    share = percent(figures.done, figures.total)
    headline = f"{state} campaign {campaign.id} “{campaign.name}”"
    line = (
        f"{bar(figures.done, figures.total)} {share}% — {figures.done:,} of "
        f"{figures.total:,} messages done"
    )
    counts = (
        f"Sent {figures.sent:,} (delivered {figures.delivered:,}) · failed {figures.failed:,} · "
        f"suppressed {figures.suppressed:,} · skipped {figures.skipped:,} · "
        f"deferred {figures.deferred:,} · still to go {figures.waiting:,}"
    )
    parts = [headline, line, counts]
    note = throttle_note(campaign, now) if campaign.state == CampaignState.SENDING else None
    if note:
        parts.append(note)
    text = "\n".join(parts)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*\n{line}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": counts}]},
    ]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return Rendered(text, blocks)


def final_report(campaign: Followed) -> Rendered:
    figures = campaign.figures
    rate = (
        f"{figures.sent * 1000 // figures.attempted / 10:g}% delivery rate "
        f"({figures.sent:,} of {figures.attempted:,} messages accepted)"
        if figures.attempted
        else "no messages were attempted"
    )
    headline = f"Campaign {campaign.id} “{campaign.name}” has finished: {rate}."
    details = (
        f"Sent {figures.sent:,} (delivered {figures.delivered:,} so far) · "
        f"failed {figures.failed:,} · suppressed {figures.suppressed:,} · "
        f"skipped {figures.skipped:,}."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*\n{details}"}}
    ]
    parts = [headline, details]
    if figures.failed:
        retry = (
            f"{figures.failed:,} failed. To send them again, press Retry failed or type "
            f"`/comms campaign retry {campaign.id}`."
        )
        parts.append(retry)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": retry}})
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": RETRY_ACTION,
                        "text": {"type": "plain_text", "text": "Retry failed"},
                        "value": str(campaign.id),
                        "style": "primary",
                    }
                ],
            }
        )
    return Rendered("\n".join(parts), blocks)


def retried_report(campaign_id: int, name: str, user_id: str, count: int) -> Rendered:
    """The report once Retry was pressed: the button gives way to who pressed it."""
    text = (
        f"Campaign {campaign_id} “{name}”: <@{user_id}> pressed Retry failed, and "
        f"{count:,} failed messages are being sent again. The progress message above "
        "follows them, and a new report comes when they are done."
    )
    return Rendered(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
