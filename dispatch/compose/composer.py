"""From a campaign's templates to the exact email and SMS one guest receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.email_message import (
    EmailContent,
    EmailParts,
    Envelope,
    Footer,
    unsubscribe_mailto,
)
from dispatch.compose.findings import Finding, Severity
from dispatch.compose.html_safety import sanitise_html
from dispatch.compose.sms_message import compose_sms
from dispatch.compose.templates import CompiledTemplate, compile_template
from dispatch.compose.tokens import GuestFacts, WeddingFacts, token_values, wedding_values
from dispatch.compose.tracking_links import Tracking, add_tracking
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from dispatch.errors import TemplateRefused
from store.enums import Channel, Tier
from store.models import Campaign, Organisation

# Template parts: (attribute, what a planner calls it, HTML?)
PARTS = (
    ("email_subject", "email subject", False),
    ("email_text", "email text", False),
    ("email_html", "email HTML", True),
    ("sms_text", "SMS text", False),
)


@dataclass(frozen=True, slots=True)
class OrganisationFacts:
    id: int
    name: str
    sender_name: str
    sender_email: str
    postal_address: str
    tier: Tier

    @classmethod
    def of(cls, organisation: Organisation, email_from: str | None = None) -> OrganisationFacts:
        """``email_from``: the platform's sending address (EMAIL_FROM), when set."""
        return cls(
            id=organisation.id,
            name=organisation.name,
            sender_name=organisation.sender_name or organisation.name,
            sender_email=email_from or organisation.sender_email,
            postal_address=organisation.postal_address,
            tier=organisation.tier,
        )


@dataclass(frozen=True, slots=True)
class CampaignContent:
    """A campaign's channels and template text: its own, or a built-in template's."""

    channels: frozenset[Channel]
    email_subject: str
    email_text: str
    email_html: str
    sms_text: str

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignContent:
        base = BUILTIN_TEMPLATES.get(campaign.template_key or "")

        def part(name: str) -> str:
            own: str | None = getattr(campaign, name)
            if own is not None:
                return own
            return getattr(base, name) if base is not None else ""

        return cls(
            channels=sending_channels(campaign),
            email_subject=part("email_subject"),
            email_text=part("email_text"),
            email_html=part("email_html"),
            sms_text=part("sms_text"),
        )


def sending_channels(campaign: Campaign) -> frozenset[Channel]:
    """The campaign's channels, and email too when texts may fall back to it."""
    channels = {Channel(c) for c in campaign.channels}
    if campaign.allow_fallback and Channel.SMS in channels:
        channels.add(Channel.EMAIL)
    return frozenset(channels)


class Composer:
    """Compiles a campaign's templates once and renders them for each guest.

    Templates that cannot be used are kept as findings (``problems``) so a
    preview can show all of them; rendering then refuses.
    """

    def __init__(
        self,
        content: CampaignContent,
        wedding: WeddingFacts,
        organisation: OrganisationFacts,
        custom_fields: frozenset[str] = frozenset(),
        *,
        for_sending: bool = False,
    ) -> None:
        """``custom_fields``: every extra guest-list column in the audience; a guest
        without a value for one gets an empty text, never the token as written.

        ``for_sending``: every name a template uses counts as such a column, so a
        guest's message is the same whichever batch renders it (the reconciler
        recognises a sent text by comparing it). Approval has already refused
        unknown tokens.
        """
        self.content = content
        self.wedding = wedding
        self.organisation = organisation
        self.custom_fields = custom_fields
        self.wedding_values = wedding_values(wedding)
        self.templates: dict[str, CompiledTemplate] = {}
        problems: list[Finding] = []
        for name, label, html in PARTS:
            if not self._uses(name):
                continue
            try:
                self.templates[name] = compile_template(
                    getattr(content, name), html=html, part=label
                )
            except TemplateRefused as refused:
                problems.append(
                    Finding(
                        "template_refused",
                        Severity.BLOCKING,
                        str(refused),
                        "Change the template as described; the guide lists every token.",
                    )
                )
        self.problems = tuple(problems)
        if for_sending:
            used = frozenset().union(*(t.tokens for t in self.templates.values()))
            self.custom_fields = self.custom_fields | used

    def _uses(self, part: str) -> bool:
        channel = Channel.SMS if part == "sms_text" else Channel.EMAIL
        return channel in self.content.channels

    @property
    def lang(self) -> str:
        return self.wedding.babel_locale().language + (
            f"-{self.wedding.babel_locale().territory}"
            if self.wedding.babel_locale().territory
            else ""
        )

    def values(self, guest: GuestFacts) -> dict[str, str]:
        values = token_values(self.wedding_values, guest)
        for name in self.custom_fields - values.keys():
            values[name] = ""
        return values

    def _render(self, part: str, values: Mapping[str, str]) -> str:
        if self.problems:
            raise TemplateRefused(self.problems[0].message)
        template = self.templates.get(part)
        return template.render(values) if template is not None else ""

    def email_content(self, guest: GuestFacts) -> EmailContent:
        values = self.values(guest)
        subject = " ".join(self._render("email_subject", values).split())
        return EmailContent(
            subject=subject,
            text=self._render("email_text", values),
            html_fragment=sanitise_html(self._render("email_html", values)),
        )

    def raw_email_html(self, guest: GuestFacts) -> str:
        """The HTML as the template produced it, before sanitising (to report removals)."""
        return self._render("email_html", self.values(guest))

    def sms_text(self, guest: GuestFacts) -> str:
        return compose_sms(
            self.organisation.sender_name, self._render("sms_text", self.values(guest))
        )

    def planner_characters(self) -> frozenset[str]:
        """Characters the planner controls: the SMS template, wedding details, sender name."""
        return frozenset(
            self.content.sms_text
            + "".join(self.wedding_values.values())
            + self.organisation.sender_name
        )

    def from_line(self) -> str:
        """The From line as a reader sees it (unencoded)."""
        return f"{self.organisation.sender_name} <{self.organisation.sender_email}>"

    def footer(self, unsubscribe_url: str) -> Footer:
        return Footer(
            organisation_name=self.organisation.name,
            postal_address=self.organisation.postal_address,
            couple_names=self.wedding.couple_names,
            wedding_date=self.wedding_values["wedding_date"],
            unsubscribe_url=unsubscribe_url,
        )

    def email_parts(
        self,
        guest: GuestFacts,
        *,
        campaign_id: int,
        tokens: UnsubscribeTokens,
        public_base_url: str,
        sent_at: datetime,
        to_address: str | None = None,
        tracking: Tracking | None = None,
    ) -> EmailParts:
        """What the message for one guest is made of; the same guest and campaign always
        get the same Message-ID, so a re-send is recognisable as the same message.

        ``tracking``: the delivery's open image and click links, when its
        organisation turned tracking on."""
        # The delivery's address (checked against the opt-out list), not
        # whatever the guest row says now.
        address = to_address or guest.email
        if address is None:
            raise ValueError(f"guest {guest.id} has no email address")
        token = tokens.issue(
            organisation_id=self.organisation.id,
            guest_id=guest.id,
            channel=Channel.EMAIL,
            campaign_id=campaign_id,
        )
        unsubscribe_url = f"{public_base_url}/u/{token}"
        domain = self.organisation.sender_email.rpartition("@")[2] or "guestcomms.invalid"
        envelope = Envelope(
            from_name=self.organisation.sender_name,
            from_address=self.organisation.sender_email,
            to_name=guest.name,
            to_address=address,
            message_id=f"<gc.{campaign_id}.{guest.id}@{domain}>",
            date=sent_at,
            unsubscribe_url=unsubscribe_url,
            unsubscribe_mailto=unsubscribe_mailto(self.organisation.sender_email, token),
            lang=self.lang,
        )
        content = self.email_content(guest)
        if tracking is not None:
            content = replace(content, html_fragment=add_tracking(content.html_fragment, tracking))
        return EmailParts(content, envelope, self.footer(unsubscribe_url))
