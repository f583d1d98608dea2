"""``guestcomms console``: the whole bot (web, workers, scheduler) on this machine,
Slack replaced by the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from bot.console.output import Output
from bot.console.repl import Console
from bot.console.signed_requests import SlackSigner
from bot.console.slack_screen import TEAM_ID, SlackScreen
from bot.dispatching import start_workers, stop_workers, wire
from bot.processes import run_scheduler, start_web
from bot.settings import Settings
from bot.slack.settings import SlackSettings
from store.database import Database
from store.enums import Role
from store.models import Member, Organisation


async def console(settings: Settings, port: int, every: float) -> None:
    """Runs until the person types /quit (or ends the input)."""
    output = Output(lambda text: print(text, flush=True))
    members, team_id, sms_number = await _who_is_here(settings)
    token = "xoxb-console-" + secrets.token_hex(8)
    names = {uid: name for uid, name, _ in members}
    screen = SlackScreen(token, output, names=names, team_id=team_id)
    slack_runner = web.AppRunner(screen.app(), access_log=None)
    await slack_runner.setup()
    await web.TCPSite(slack_runner, "127.0.0.1", 0).start()
    screen.base_url = _address(slack_runner)
    signing_secret = secrets.token_urlsafe(24)
    # Guests' texts are signed like Twilio's: with the real auth token when one
    # is configured, otherwise a key made up for this session.
    twilio_token = settings.dispatch.twilio_auth_token or SecretStr(secrets.token_hex(16))
    settings = dataclasses.replace(
        settings,
        slack=SlackSettings.model_construct(
            slack_bot_token=SecretStr(token),
            slack_signing_secret=SecretStr(signing_secret),
            slack_api_url=f"{screen.base_url}/api/",
            slack_progress_every_seconds=2.0,
        ),
        dispatch=settings.dispatch.model_copy(update={"twilio_auth_token": twilio_token}),
    )
    dispatching = wire(settings)
    worker = start_workers(dispatching)
    runner = await start_web(settings, dispatching, port)
    stop = asyncio.Event()
    scheduler = asyncio.create_task(run_scheduler(settings, dispatching, stop, every))
    try:
        async with aiohttp.ClientSession() as http:
            session = Console(
                http=http,
                base_url=_address(runner),
                screen=screen,
                signer=SlackSigner(signing_secret, team_id),
                user=_first_planner(members),
                members=names,
                twilio_auth_token=twilio_token.get_secret_value(),
                public_base_url=settings.dispatch.public_base_url,
                sms_number=sms_number,
                read_line=_read_line,
                output=output,
            )
            output.write(
                f"guestcomms console — web on {_address(runner)}; messages to guests land in "
                f"{settings.dispatch.outbox_dir}/ unless providers are set."
            )
            await session.run()
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await scheduler
        await runner.cleanup()
        await asyncio.to_thread(stop_workers, worker)
        dispatching.broker.close()
        await slack_runner.cleanup()


async def _read_line(prompt: str) -> str | None:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


def _address(runner: web.AppRunner) -> str:
    # Port 0 lets IPv4 and IPv6 each pick a port: use the IPv4 one, on loopback.
    ipv4 = [address for address in runner.addresses if len(address) == 2]
    return f"http://127.0.0.1:{(ipv4 or runner.addresses)[0][1]}"


async def _who_is_here(
    settings: Settings,
) -> tuple[list[tuple[str, str, Role]], str, str]:
    """The members to act as, the workspace id to speak for and the number guests text."""
    database = Database(settings.store)
    try:
        async with database.reading() as session:
            organisation = await session.scalar(select(Organisation).order_by(Organisation.id))
            if organisation is None:
                raise SystemExit("There is no organisation yet: run `guestcomms demo-data` first.")
            rows = await session.execute(
                select(Member.slack_user_id, Member.display_name, Member.role)
                .where(Member.organisation_id == organisation.id)
                .order_by(Member.id)
            )
            members = [(uid, name or uid, role) for uid, name, role in rows]
    finally:
        await database.dispose()
    # The console speaks for the workspace the organisation is linked to, if any.
    return members, organisation.slack_team_id or TEAM_ID, organisation.sms_number or ""


def _first_planner(members: list[tuple[str, str, Role]]) -> str:
    """A newcomer starts as the planner: the one who creates campaigns."""
    planners = [uid for uid, _, role in members if role == Role.PLANNER]
    return (planners or [uid for uid, _, _ in members] or ["U_PLANNER"])[0]
