"""Providers: one interface per channel, chosen by settings (Twilio, SMTP, Resend, console)."""
