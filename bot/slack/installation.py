"""Multi-workspace installs: Bolt's OAuth flow on the project's database.

slack_sdk ships async stores for SQLAlchemy (``AsyncSQLAlchemyInstallationStore``
and ``AsyncSQLAlchemyOAuthStateStore``), so they run on the process's own
async engine — no second, synchronous engine and no thread pool. Their tables
are built by migration 0007, never by ``create_tables()`` at run time.

``/slack/install`` redirects straight to Slack's consent screen (with the
state in a cookie and in the URL); ``/slack/oauth_redirect`` exchanges the
code (``oauth.v2.access``), stores the installation, and links the team to
its organisation before the installer sees the success page. When a
workspace removes the app, Bolt's ``app_uninstalled`` listener (enabled in
``build_bolt_app``) deletes its installation.
"""

from __future__ import annotations

from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.slack.services import BotServices
from bot.slack.workspaces import link_installed_team

# What the bot does: commands, messages in channels it is in, DMs, files.
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "im:history",
    "im:write",
)
STATE_SECONDS = 600


def oauth_settings(services: BotServices) -> AsyncOAuthSettings:
    settings = services.settings.slack
    secret = settings.slack_client_secret
    # Only called when OAuth is enabled, that is with both set.
    assert settings.slack_client_id
    assert secret
    engine = services.database.engine

    async def installed(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        if installation.team_id:
            async with services.database.transaction() as session:
                await link_installed_team(
                    session,
                    installation.team_id,
                    installation.team_name or "",
                    installation.user_id,
                )
        return await args.default.success(args)

    base = services.settings.dispatch.public_base_url.rstrip("/")
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        redirect_uri=f"{base}/slack/oauth_redirect",
        install_page_rendering_enabled=False,
        installation_store=installation_store(services),
        state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=installed, failure=_failed),
    )


def installation_store(services: BotServices) -> AsyncSQLAlchemyInstallationStore:
    """Each installed workspace's bot token, for Bolt (answering requests) and for the
    notifier (posting on its own): the same tables on the process's engine."""
    client_id = services.settings.slack.slack_client_id
    assert client_id  # only with OAuth enabled
    return AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=services.database.engine)


async def _failed(args: AsyncFailureArgs) -> BoltResponse:
    # Bolt's own page says what went wrong (a stale link, a cancelled consent).
    return await args.default.failure(args)
