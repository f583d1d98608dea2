"""Choosing providers from settings: Twilio or console SMS; SMTP, Resend or console email."""

from __future__ import annotations

from dispatch.providers.base import EmailProvider, SmsProvider
from dispatch.providers.console import ConsoleEmail, ConsoleSms
from dispatch.providers.resend_email import ResendEmail
from dispatch.providers.smtp_email import SmtpEmail
from dispatch.providers.twilio_sms import TwilioSms
from dispatch.settings import DispatchSettings


def sms_provider(settings: DispatchSettings) -> SmsProvider:
    if settings.twilio_configured:
        return TwilioSms(settings)
    return ConsoleSms(settings.outbox_dir)


def email_provider(settings: DispatchSettings) -> EmailProvider:
    if settings.email_provider == "smtp" and settings.smtp_host:
        return SmtpEmail(settings)
    if settings.email_provider == "resend" and settings.resend_api_key:
        return ResendEmail(settings)
    return ConsoleEmail(settings.outbox_dir)
