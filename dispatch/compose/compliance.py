"""The compliance check: every finding about a campaign draft, and a score from 0 to 100.

One function, ``assess``, reads the compiled templates, the audience and its
recipient plan, and returns findings a planner can act on. Blocking findings
make approval impossible (the approval step asks ``report.blocking``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from dispatch.compose import content_checks
from dispatch.compose.composer import PARTS, Composer
from dispatch.compose.content_checks import check_wording
from dispatch.compose.cost import PricedSms, SmsCost, estimate_sms_cost
from dispatch.compose.findings import Finding, Severity
from dispatch.compose.html_safety import check_html, removed_by_sanitising
from dispatch.compose.quiet_hours import guest_zones, in_quiet_hours
from dispatch.compose.tokens import STANDARD_TOKENS, WEDDING_TOKENS, GuestFacts, guest_values
from dispatch.recipients import NO_ADDRESS, NO_SMS_CONSENT, RecipientPlan
from store.enums import Channel

PENALTY = {Severity.BLOCKING: 30, Severity.WARNING: 10, Severity.INFO: 0}
LONG_SMS_SEGMENTS = 4
# Twilio refuses longer bodies (error 21617); carriers reassemble at most 10 parts.
MAX_SMS_CHARACTERS = 1600
MAX_SMS_SEGMENTS = 10
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_PART_LABELS = {name: label for name, label, _ in PARTS}


@dataclass(frozen=True, slots=True)
class SendContext:
    send_at: datetime  # the scheduled time, or now for "send now"
    day_of_logistics: bool
    recipients_limit: int  # the organisation's tier limit per campaign
    sms_prices: Mapping[str, Decimal]
    public_base_url: str  # where unsubscribe links point


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    findings: tuple[Finding, ...]
    score: int
    sms_cost: SmsCost | None

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == Severity.BLOCKING)

    def codes(self) -> list[str]:
        return [finding.code for finding in self.findings]


def score(findings: Sequence[Finding]) -> int:
    """100 for a clean draft; 30 off per blocking finding and 10 per warning."""
    return max(0, 100 - sum(PENALTY[finding.severity] for finding in findings))


def assess(
    composer: Composer,
    plan: RecipientPlan,
    context: SendContext,
    other_problems: Sequence[Finding] = (),
) -> ComplianceReport:
    """``other_problems``: findings made before composing, e.g. an unreadable segment."""
    findings: list[Finding] = [*other_problems, *composer.problems]
    findings += _audience_findings(composer, plan, context)
    cost: SmsCost | None = None
    if not composer.problems:
        findings += _token_findings(composer, plan)
        if Channel.EMAIL in composer.content.channels and plan.on(Channel.EMAIL):
            findings += _email_findings(composer, plan.on(Channel.EMAIL)[0].guest)
        if Channel.SMS in composer.content.channels and plan.on(Channel.SMS):
            sms_findings, cost = _sms_findings(composer, plan, context)
            findings += sms_findings
    order = {Severity.BLOCKING: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda finding: order[finding.severity])
    return ComplianceReport(tuple(findings), score(findings), cost)


def _audience_findings(
    composer: Composer, plan: RecipientPlan, context: SendContext
) -> list[Finding]:
    content = composer.content
    findings: list[Finding] = []
    if not content.channels:
        findings.append(
            Finding(
                "no_channel", Severity.BLOCKING, "No channel is chosen.", "Pick email, SMS or both."
            )
        )
    if Channel.EMAIL in content.channels:
        if not (content.email_subject.strip() and content.email_text.strip()):
            findings.append(
                Finding(
                    "email_content_missing",
                    Severity.BLOCKING,
                    "The email needs a subject and a text body.",
                    "Choose a template or write both.",
                )
            )
        if not composer.organisation.postal_address.strip():
            findings.append(
                Finding(
                    "postal_address_missing",
                    Severity.BLOCKING,
                    f"{composer.organisation.name} has no postal address; CAN-SPAM requires a "
                    "valid physical postal address in every email.",
                    "Add the business address to the organisation's settings.",
                )
            )
        findings += _unsubscribe_link_findings(context.public_base_url)
        if "@" not in composer.organisation.sender_email:
            findings.append(
                Finding(
                    "sender_missing",
                    Severity.BLOCKING,
                    f"{composer.organisation.name} has no sender email address for the From line.",
                    "Set the organisation's sender email.",
                )
            )
    if Channel.SMS in content.channels and not content.sms_text.strip():
        findings.append(
            Finding(
                "sms_content_missing",
                Severity.BLOCKING,
                "The SMS has no text.",
                "Choose a template or write the text.",
            )
        )
    recipients = plan.recipient_count
    if recipients == 0:
        findings.append(
            Finding(
                "no_recipients",
                Severity.BLOCKING,
                "Nobody in this audience can receive the campaign.",
                "Check the segment, the channels and the guests' addresses.",
            )
        )
    if recipients > context.recipients_limit:
        findings.append(
            Finding(
                "tier_recipient_limit",
                Severity.BLOCKING,
                f"{recipients:,} guests would receive this campaign; the "
                f"{composer.organisation.tier.value.title()} plan allows "
                f"{context.recipients_limit:,} per campaign.",
                "Narrow the audience with a segment, split the campaign, or upgrade the plan.",
            )
        )
    no_consent = plan.skipped_count(Channel.SMS, NO_SMS_CONSENT)
    if no_consent:
        findings.append(
            Finding(
                "sms_no_consent",
                Severity.WARNING,
                f"{_guests(no_consent)} {_have(no_consent)} no SMS consent on record and will "
                "not be texted.",
                "Record their consent (for example from the RSVP card) or reach them by email.",
            )
        )
    for channel in sorted(content.channels):
        reasons = {
            reason: count
            for (on, reason), count in plan.suppression_reasons().items()
            if on == channel
        }
        if reasons:
            total = sum(reasons.values())
            why = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            findings.append(
                Finding(
                    "suppressed_recipients",
                    Severity.INFO,
                    f"{_guests(total)} will not get the {_channel(channel)}: on the opt-out "
                    f"list ({why}).",
                )
            )
        unreachable = plan.skipped_count(channel, NO_ADDRESS)
        if unreachable:
            findings.append(
                Finding(
                    "unreachable_recipients",
                    Severity.INFO,
                    f"{_guests(unreachable)} {_have(unreachable)} no "
                    f"{'email address' if channel == Channel.EMAIL else 'phone number'} "
                    f"and will not get the {_channel(channel)}.",
                )
            )
    return findings


def _unsubscribe_link_findings(public_base_url: str) -> list[Finding]:
    """RFC 8058 one-click unsubscribe needs an https link mail providers can POST to."""
    parts = urlsplit(public_base_url)
    if parts.scheme == "https":
        return []
    if (parts.hostname or "") in LOCAL_HOSTS:
        return [
            Finding(
                "unsubscribe_link_local",
                Severity.WARNING,
                f"Unsubscribe links point at {public_base_url}, which only works on this "
                "computer; fine for trying things out, not for real guests.",
                "Set PUBLIC_BASE_URL to the server's https address.",
            )
        ]
    return [
        Finding(
            "unsubscribe_link_insecure",
            Severity.BLOCKING,
            f"Unsubscribe links would use {public_base_url}; one-click unsubscribe "
            "(RFC 8058) needs https.",
            "Set PUBLIC_BASE_URL to the server's https address.",
        )
    ]


def _token_findings(composer: Composer, plan: RecipientPlan) -> list[Finding]:
    guests = {delivery.guest.id: delivery.guest for delivery in plan.deliveries}
    known = STANDARD_TOKENS | composer.custom_fields
    findings: list[Finding] = []
    unknown_in: dict[str, list[str]] = {}
    for part, template in composer.templates.items():
        for token in sorted(template.tokens - known):
            unknown_in.setdefault(token, []).append(_PART_LABELS[part])
    for token, parts in unknown_in.items():
        close = difflib.get_close_matches(token, sorted(known), n=1)
        findings.append(
            Finding(
                "token_unknown",
                Severity.BLOCKING,
                "{{" + token + "}} in the " + " and ".join(parts) + " is not a token; all "
                f"{len(guests)} guests would see it as written.",
                ("Did you mean {{" + close[0] + "}}? " if close else "")
                + "Tokens: "
                + ", ".join("{{" + t + "}}" for t in WEDDING_TOKENS)
                + ", or any guest-list column.",
            )
        )
    empty: dict[str, set[int]] = {}
    # Each guest's values once, not once per token and part.
    values = {guest_id: composer.values(guest) for guest_id, guest in guests.items()}
    for part, template in composer.templates.items():
        channel = Channel.SMS if part == "sms_text" else Channel.EMAIL
        audience = [d.guest.id for d in plan.on(channel)]
        for token in template.bare_tokens & known:
            for guest_id in audience:
                if not values[guest_id].get(token, "").strip():
                    empty.setdefault(token, set()).add(guest_id)
    for token, guest_ids in sorted(empty.items()):
        wedding_wide = token in composer.wedding_values
        findings.append(
            Finding(
                "token_empty",
                Severity.BLOCKING if wedding_wide else Severity.WARNING,
                "{{"
                + token
                + "}} is empty "
                + (
                    f"for this wedding, so all {len(guest_ids)} guests"
                    if wedding_wide
                    else f"for {len(guest_ids)} of {len(guests)} guests, who"
                )
                + " would see a blank.",
                (
                    "Fill it in the wedding's details, "
                    if wedding_wide
                    else "Fill it in the guest list, "
                )
                + "or write {{ "
                + token
                + ' | default("…") }}, or put it inside {% if '
                + token
                + " %}…{% endif %}.",
            )
        )
    return findings


def _email_findings(composer: Composer, sample: GuestFacts) -> list[Finding]:
    content = composer.email_content(sample)
    findings = content_checks.check_subject(content.subject)
    findings += check_wording(content.text, "email text")
    removed = removed_by_sanitising(composer.raw_email_html(sample))
    if removed:
        findings.append(
            Finding(
                "html_sanitised",
                Severity.INFO,
                "What email cannot carry safely was removed from the HTML: "
                + ", ".join(removed)
                + ".",
                "Preview the email to check it still reads as intended.",
            )
        )
    html = check_html(content.html_fragment)
    findings += html.findings
    findings += check_wording(html.text, "email HTML")
    links = [*html.links, *((url, None) for url in content_checks.urls_in(content.text))]
    findings += content_checks.check_links(links, "email")
    return findings


def _sms_findings(
    composer: Composer, plan: RecipientPlan, context: SendContext
) -> tuple[list[Finding], SmsCost]:
    deliveries = plan.on(Channel.SMS)
    messages = [
        PricedSms(
            d.address,
            composer.sms_text(d.guest),
            frozenset("".join(guest_values(d.guest).values())),
        )
        for d in deliveries
    ]
    findings = check_wording(messages[0].text, "SMS")
    findings += content_checks.check_links(
        [(url, None) for url in content_checks.urls_in(messages[0].text)], "SMS"
    )
    cost = estimate_sms_cost(messages, context.sms_prices, composer.planner_characters())
    most = cost.most_segments
    longest = max(len(message.text) for message in messages)
    too_long = longest > MAX_SMS_CHARACTERS or most > MAX_SMS_SEGMENTS
    if too_long:
        findings.append(
            Finding(
                "sms_too_long",
                Severity.BLOCKING,
                f"The SMS is up to {longest:,} characters ({most} segments); Twilio accepts "
                f"at most {MAX_SMS_CHARACTERS:,} and phones reassemble at most "
                f"{MAX_SMS_SEGMENTS} parts.",
                "Shorten it and put the details behind the link.",
            )
        )
    if cost.ucs2:
        findings.append(_ucs2_finding(cost))
    if most >= LONG_SMS_SEGMENTS and not too_long:
        findings.append(
            Finding(
                "sms_long",
                Severity.WARNING,
                f"The SMS is up to {most} segments long; long texts cost more and arrive "
                "split on some phones.",
                "Shorten it and put the details behind the link.",
            )
        )
    findings.append(
        Finding(
            "sms_segments",
            Severity.INFO,
            f"{len(messages)} texts, {cost.segments} segments, about {cost.amount}.",
        )
    )
    quiet = sum(
        1
        for d in deliveries
        if in_quiet_hours(
            context.send_at, guest_zones(d.guest.timezone, d.address, composer.wedding.timezone)
        )
    )
    if quiet:
        if context.day_of_logistics:
            findings.append(
                Finding(
                    "quiet_hours",
                    Severity.INFO,
                    f"{_guests(quiet)} will get the text between 21:00 and 08:00 their time; "
                    "allowed because the campaign is marked as day-of logistics.",
                )
            )
        else:
            findings.append(
                Finding(
                    "quiet_hours",
                    Severity.WARNING,
                    f"{_guests(quiet)} would get the text between 21:00 and 08:00 their "
                    "time; their texts will wait until 08:00.",
                    "Schedule the campaign for the daytime, or mark it as day-of logistics "
                    "if it cannot wait.",
                )
            )
    return findings, cost


def _guests(count: int) -> str:
    return f"{count} guest{'s' if count != 1 else ''}"


def _have(count: int) -> str:
    return "has" if count == 1 else "have"


def _channel(channel: Channel) -> str:
    return "email" if channel == Channel.EMAIL else "SMS"


def _ucs2_finding(cost: SmsCost) -> Finding:
    """Texts in UCS-2 cost more segments. Only what the planner wrote is worth
    changing: a guest's own name with a “ë” is theirs to keep, so texts made
    dearer only by such details are counted, not flagged."""
    texts = f"{cost.ucs2_texts} of {cost.messages} text{'s' if cost.messages != 1 else ''}"
    if cost.ucs2_texts_by_planner == 0 and cost.guest_ucs2_characters:
        return Finding(
            "sms_ucs2",
            Severity.INFO,
            f"{texts} {'uses' if cost.ucs2_texts == 1 else 'use'} characters outside GSM-7 "
            f"from the guests' own names or details (such as “{cost.guest_ucs2_characters[0]}”), "
            "so each of their segments holds 70 characters instead of 160; the cost includes it.",
        )
    hints = "; ".join(str(hint) for hint in cost.savings)
    return Finding(
        "sms_ucs2",
        Severity.WARNING,
        f"The SMS uses characters outside GSM-7 ({texts}), so each segment holds 70 "
        "characters instead of 160." + (f" {hints}." if hints else ""),
        "Replace those characters (straight quotes and hyphens are free).",
    )
