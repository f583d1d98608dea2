"""A campaign preview as plain text, for the terminal (Slack gets Block Kit later)."""

from __future__ import annotations

from collections import Counter

from dispatch.compose.findings import Severity
from dispatch.compose.preview import CampaignPreview
from dispatch.recipients import NO_ADDRESS, NO_SMS_CONSENT, PREFERS_OTHER_CHANNEL, SUPPRESSED
from store.enums import Channel

_SKIP_WORDS = {
    NO_ADDRESS: "no address",
    SUPPRESSED: "opted out",
    NO_SMS_CONSENT: "no SMS consent",
    PREFERS_OTHER_CHANNEL: "prefer the other channel",
}


def preview_lines(preview: CampaignPreview, title: str) -> list[str]:
    plan = preview.plan
    lines = [
        f"{title} — audience: {preview.audience} ({preview.audience_size} guests), "
        f"{plan.recipient_count} will receive it.",
        f"Email: {len(plan.on(Channel.EMAIL))} · SMS: {len(plan.on(Channel.SMS))}"
        + _skipped(preview),
        "",
    ]
    report = preview.report
    verdict = (
        "blocked: fix the blocking findings before anyone can approve"
        if report.blocking
        else "ready for approval"
    )
    lines.append(f"Compliance score {report.score}/100 — {verdict}.")
    for finding in report.findings:
        lines.append(f"  {finding.severity.value:<8} {finding.message}")
        if finding.fix and finding.severity != Severity.INFO:
            lines.append(f"  {'':<8} Fix: {finding.fix}")
    for sample in preview.samples:
        lines += ["", f"── {sample.guest_name} ──"]
        if sample.email is not None:
            lines += [
                f"From: {sample.email_from}",
                f"To: {sample.email_to}",
                f"Subject: {sample.email.subject}",
                "",
                sample.email.text.rstrip(),
                "",
                (sample.email_footer or "").rstrip(),
            ]
        if sample.sms is not None and sample.sms_segments is not None:
            counted = sample.sms_segments
            plural = "s" if counted.segments != 1 else ""
            lines += [
                "",
                f"SMS ({counted.encoding}, {counted.segments} segment{plural}): {sample.sms}",
            ]
    return lines


def _skipped(preview: CampaignPreview) -> str:
    counts = Counter((skip.channel, skip.reason) for skip in preview.plan.skipped)
    if not counts:
        return ""
    parts = [
        f"{count} {'email' if channel == Channel.EMAIL else 'SMS'} ({_SKIP_WORDS[reason]})"
        for (channel, reason), count in sorted(counts.items())
    ]
    return " · not sent: " + ", ".join(parts)
