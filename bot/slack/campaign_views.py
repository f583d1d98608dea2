"""How a campaign reads in Slack: its preview, its audience, its summary.

Each view is plain text first (the message's ``text``: what notifications
and screen readers read, complete on its own) and Block Kit second, built
from the same words.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.preview_text import preview_lines
from bot.slack.when import spoken
from dispatch.compose.preview import CampaignPreview, SampleMessage
from dispatch.recipients import NO_ADDRESS, NO_SMS_CONSENT, PREFERS_OTHER_CHANNEL, SUPPRESSED
from store.enums import Channel
from store.models import Campaign

SECTION_LIMIT = 2900  # Slack refuses a section text over 3000 characters
_CHANNEL_WORDS = {Channel.EMAIL: "email", Channel.SMS: "SMS"}
_REASONS = {
    NO_ADDRESS: "have no address for it",
    NO_SMS_CONSENT: "have no SMS consent on record",
    PREFERS_OTHER_CHANNEL: "prefer the other channel",
}


def section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def channels_words(channels: list[str]) -> str:
    return " and ".join(_CHANNEL_WORDS[Channel(c)] for c in sorted(channels)) or "no channel"


def audience_report(preview: CampaignPreview) -> str:
    """The live count, and who of them will not be reached and why."""
    plan = preview.plan
    lines = [
        f"{preview.audience_size} guest{'s' if preview.audience_size != 1 else ''} match "
        f"({preview.audience}); {plan.recipient_count} will receive it."
    ]
    for (channel, reason), count in sorted(plan.suppression_reasons().items()):
        lines.append(
            f"• {count} opted out of {_CHANNEL_WORDS[channel]} (reason: {reason}) "
            "and will not get it"
        )
    others = Counter((s.channel, s.reason) for s in plan.skipped if s.reason != SUPPRESSED)
    for (channel, reason), count in sorted(others.items()):
        lines.append(f"• {count} {_REASONS[reason]} ({_CHANNEL_WORDS[channel]})")
    return "\n".join(lines)


def suppressed_by_reason(preview: CampaignPreview) -> str:
    reasons = Counter(
        detail for (_channel, detail) in preview.plan.suppression_reasons().elements()
    )
    if not reasons:
        return "none"
    return ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))


def cost_words(preview: CampaignPreview) -> str:
    cost = preview.report.sms_cost
    emails = len(preview.plan.on(Channel.EMAIL))
    parts = []
    if cost is not None:
        parts.append(
            f"SMS: {cost.messages} messages, {cost.segments} segments, about {cost.amount}"
        )
        parts += [f"tip: {hint}" for hint in cost.savings]
    if emails:
        parts.append(f"email: {emails} messages, no per-message charge")
    return "; ".join(parts) or "nothing to send"


def schedule_words(campaign: Campaign, zone: str) -> str:
    if campaign.scheduled_at is None:
        return "as soon as it is approved"
    return spoken(campaign.scheduled_at, zone)


def summary_lines(campaign: Campaign, preview: CampaignPreview, zone: str) -> list[str]:
    report = preview.report
    return [
        f"Audience: {preview.audience} — {preview.audience_size} guests, "
        f"{preview.plan.recipient_count} will receive it",
        f"Opted out (not sent): {suppressed_by_reason(preview)}",
        f"Channels: {channels_words(campaign.channels)}",
        f"Cost: {cost_words(preview)}",
        f"Compliance score: {report.score}/100"
        + (f", {len(report.blocking)} blocking finding(s)" if report.blocking else ""),
        f"Sends: {schedule_words(campaign, zone)}",
    ]


def preview_text(campaign: Campaign, preview: CampaignPreview, zone: str) -> str:
    title = f"Preview of campaign {campaign.id}, “{campaign.name}”"
    lines = preview_lines(preview, title)
    lines += [
        "",
        f"Cost estimate: {cost_words(preview)}.",
        f"Sends: {schedule_words(campaign, zone)}.",
    ]
    return "\n".join(lines)


def preview_blocks(campaign: Campaign, preview: CampaignPreview, zone: str) -> list[dict[str, Any]]:
    report = preview.report
    verdict = (
        "Blocked: fix the blocking findings before anyone can approve."
        if report.blocking
        else "Ready for approval."
    )
    findings = "\n".join(
        f"• *{finding.severity.value}*: {finding.message}"
        + (f" Fix: {finding.fix}" if finding.fix and finding.severity.value != "info" else "")
        for finding in report.findings
    )
    blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Preview: {campaign.name}"[:150]},
        },
        section("\n".join(summary_lines(campaign, preview, zone))),
        section(f"*Compliance score {report.score}/100.* {verdict}\n{findings}".rstrip()),
    ]
    for sample in preview.samples:
        blocks += [{"type": "divider"}, section(_sample(sample))]
    return blocks[:50]


def _sample(sample: SampleMessage) -> str:
    parts = [f"*As {sample.guest_name} will receive it*"]
    if sample.email is not None:
        body = sample.email.text.rstrip() + "\n\n" + (sample.email_footer or "").rstrip()
        parts.append(f"Email to {sample.email_to}\nSubject: {sample.email.subject}\n```{body}```")
    if sample.sms is not None and sample.sms_segments is not None:
        counted = sample.sms_segments
        parts.append(
            f"SMS ({counted.encoding}, {counted.segments} "
            f"segment{'s' if counted.segments != 1 else ''}):\n```{sample.sms}```"
        )
    return "\n".join(parts)
