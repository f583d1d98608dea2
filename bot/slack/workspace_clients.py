"""Which Web API client speaks for an organisation in its own Slack workspace.

The notifier posts for every organisation, not in answer to a request, so no
Bolt context hands it a client. A single-workspace install has one bot token
(SLACK_BOT_TOKEN) for all of them. In a multi-workspace install each
organisation's workspace (``organisations.slack_team_id``) installed the app
through OAuth and its bot token is in slack_sdk's installation store; an
organisation whose workspace has no installation gets no client, and nothing
is posted for it.

Tokens are remembered for ``TOKEN_SECONDS``: every few seconds a pass looks up
each campaign it follows, and that should not be a database read each time;
but an uninstall (Bolt's ``app_uninstalled`` listener deletes the
installation) or a reinstall with a new token is seen within that time. Every
client shares the notifier's one aiohttp session.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import ClientSession
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack.bolt_app import web_client
from bot.slack.installation import installation_store
from bot.slack.services import BotServices
from bot.slack.settings import SlackSettings
from store.models import Organisation

TOKEN_SECONDS = 30.0

# organisation id → its workspace's bot token, or None when it has none.
TokenLookup = Callable[[int], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class _Known:
    token: str | None
    client: AsyncWebClient | None
    until: float


class WorkspaceClients:
    def __init__(
        self,
        settings: SlackSettings,
        session: ClientSession,
        find_token: TokenLookup,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._session = session
        self._find_token = find_token
        self._monotonic = monotonic
        self._known: dict[int, _Known] = {}

    async def for_organisation(self, organisation_id: int) -> AsyncWebClient | None:
        """The client with the organisation's bot token; None when it has no workspace
        the app is installed in."""
        now = self._monotonic()
        known = self._known.get(organisation_id)
        if known is not None and known.until > now:
            return known.client
        token = await self._find_token(organisation_id)
        if known is not None and _same_token(known.token, token):
            client = known.client  # the same token: keep its client
        else:
            client = web_client(self._settings, token, self._session) if token else None
        self._known[organisation_id] = _Known(token, client, now + TOKEN_SECONDS)
        return client


def workspace_clients(services: BotServices, session: ClientSession) -> WorkspaceClients:
    """The clients for this install's mode (the same choice ``build_bolt_app`` makes)."""
    settings = services.settings.slack
    if settings.oauth_enabled:
        return WorkspaceClients(settings, session, _installed_token(services))
    bot_token = settings.slack_bot_token
    # Slack is mounted only when one of the two modes is configured.
    assert bot_token is not None
    token = bot_token.get_secret_value()

    async def the_one_token(_organisation_id: int) -> str:
        return token

    return WorkspaceClients(settings, session, the_one_token)


def _installed_token(services: BotServices) -> TokenLookup:
    store = installation_store(services)

    async def find(organisation_id: int) -> str | None:
        async with services.database.reading() as session:
            team_id = await session.scalar(
                select(Organisation.slack_team_id).where(Organisation.id == organisation_id)
            )
        if not team_id:
            return None  # not linked to any workspace
        # Workspaces, not Enterprise Grid organisations, install the app (as Bolt
        # stores them: no enterprise id).
        bot = await store.async_find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot is not None else None

    return find


def _same_token(known: str | None, found: str | None) -> bool:
    """Tokens are compared in constant time, as every secret is (tests/test_constant_time.py)."""
    if known is None or found is None:
        return known is found
    return hmac.compare_digest(known.encode(), found.encode())
