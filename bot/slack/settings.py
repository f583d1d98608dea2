"""Settings the Slack bot reads."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # A single-workspace install: the bot token of that workspace.
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    # Where slack_sdk's Web API client sends its calls; tests and the console
    # point it at a local fake ("…/api/").
    slack_api_url: str | None = None
    slack_alerts_channel: str | None = None
    # Where alert messages link for each rule's runbook section (the README as
    # published, e.g. on GitHub); unset, the message names the README section.
    slack_alerts_runbook_url: str | None = None
    # An unacknowledged P0/P1 alert is announced again in its thread this often.
    slack_alerts_renotify_seconds: float = 1800.0
    # A multi-workspace install (Bolt's OAuth flow): each workspace that adds
    # the app gets its own bot token, kept in the database.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # How often a campaign's progress message may be edited (chat.update is
    # rate-limited per channel, and planners read it, not a ticker).
    slack_progress_every_seconds: float = 3.0

    def missing(self) -> list[str]:
        """What must still be set before ``/slack/events`` can answer."""
        missing = [] if self.slack_signing_secret else ["SLACK_SIGNING_SECRET"]
        if not self.slack_bot_token and not self.oauth_enabled:
            missing.append("SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)")
        return missing

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)
