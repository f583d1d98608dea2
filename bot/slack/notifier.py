"""The web app's Slack notifier: every few seconds, reads the outbox and refreshes the
progress of campaigns that are sending.

It claims only the kinds it handles (breaker events are the alerts' to read),
each with one guarded UPDATE, so two web processes never both handle one
event. An event Slack could not take now (rate-limited, down) is given back
and tried on the next pass; one Slack will never take (the bot is not in the
channel) is logged and dropped.

Each organisation's messages go to its own workspace with that workspace's
bot token (``WorkspaceClients``): the one SLACK_BOT_TOKEN in a
single-workspace install, its installation's token in a multi-workspace one.
An organisation whose workspace has not installed the app is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import ClientSession, web

from bot.slack.campaign_progress import CampaignFollower
from bot.slack.guest_notes import GUEST_KINDS, GuestNotes
from bot.slack.services import BotServices
from bot.slack.slack_failures import try_again_later
from bot.slack.workspace_clients import WorkspaceClients, workspace_clients
from store.repositories.outbox import OutboxEvent, claim_events, release_events

log = structlog.get_logger(__name__)

CAMPAIGN_KINDS = ("campaign.completed", "campaign.failed")
KINDS = CAMPAIGN_KINDS + GUEST_KINDS
# A pass waiting out Slack's Retry-After may take a few seconds to finish.
STOP_WAIT_SECONDS = 15.0


class SlackNotifier:
    def __init__(self, services: BotServices, clients: WorkspaceClients) -> None:
        self.services = services
        self.campaigns = CampaignFollower(services, clients)
        self.guests = GuestNotes(services, clients)

    async def run_pass(self) -> None:
        async with self.services.database.transaction() as session:
            events = await claim_events(session, KINDS, self.services.clock())
        retry: list[int] = []
        finished = [e for e in events if e.kind in CAMPAIGN_KINDS]
        for event in finished:
            retry += await self._finish(event)
        guest_events = [e for e in events if e.kind in GUEST_KINDS]
        try:
            retry += await self.guests.handle(guest_events)
        except Exception:
            # A fault of ours, not Slack's: retrying would fail the same way forever.
            log.exception("could not read guests' events", events=[e.id for e in guest_events])
        if retry:
            async with self.services.database.transaction() as session:
                await release_events(session, retry)
        done = {int(e.payload.get("campaign_id", 0)) for e in finished}
        for campaign_id in await self.campaigns.campaigns_to_refresh():
            if campaign_id not in done:
                await self._refresh(campaign_id)

    async def _finish(self, event: OutboxEvent) -> list[int]:
        try:
            finished = await self.campaigns.finish(int(event.payload["campaign_id"]))
        except Exception as error:
            if try_again_later(error):
                return [event.id]
            log.exception("could not report a finished campaign", event=event.id)
            return []
        return [] if finished else [event.id]

    async def _refresh(self, campaign_id: int) -> None:
        try:
            await self.campaigns.refresh(campaign_id)
        except Exception as error:
            # The figures stay unshown; a busy Slack's turn comes on the next pass.
            if not try_again_later(error):
                log.exception("could not show a campaign's progress", campaign=campaign_id)

    async def run_until(self, stopping: asyncio.Event) -> None:
        every = self.services.settings.slack.slack_progress_every_seconds
        while not stopping.is_set():
            try:
                await self.run_pass()
            except Exception:
                # A database hiccup must not end the notifier for the process's life
                # (nor a log stream that is gone).
                with contextlib.suppress(Exception):
                    log.exception("slack notifier pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every)


def notifier_context(
    services: BotServices,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """For the aiohttp app's ``cleanup_ctx``: runs while the app serves.

    On shutdown the pass under way is let finish (a claimed event is posted,
    not lost) before the clients' shared HTTP session closes.
    """

    async def context(_app: web.Application) -> AsyncIterator[None]:
        session = ClientSession()
        clients = workspace_clients(services, session)
        stopping = asyncio.Event()
        task = asyncio.create_task(SlackNotifier(services, clients).run_until(stopping))
        try:
            yield
        finally:
            stopping.set()
            try:
                await asyncio.wait_for(task, STOP_WAIT_SECONDS)
            except TimeoutError:
                pass  # wait_for cancelled it
            finally:
                await session.close()

    return context
