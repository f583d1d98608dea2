"""The permission table (store/permissions.py), walked through real doors.

For every action × every role, one real entry point is driven — a ``/comms``
command or the operator API with a signed token: an allowed role gets the
work done; any other role is told privately (or in the 403) which roles may,
and nothing in the database changes. Then every command, button, form and
API route is tried by each role its action leaves out. A new action fails
``test_every_action_has_a_case`` until it has a scenario here.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient
from slack_bolt.async_app import AsyncApp
from sqlalchemy import select

from bot.slack.areas import AREAS
from bot.slack.bolt_app import web_client
from bot.slack.router import BotWiring
from bot.slack.services import BotServices
from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from handlers.operator_api import ROUTES
from store.database import Database
from store.enums import CampaignState, Role
from store.models import (
    AlertRule,
    AuditEntry,
    Campaign,
    Conversation,
    Guest,
    Member,
    Organisation,
    SlackMessage,
    Wedding,
)
from store.permissions import ALLOWED, DOING, Action, can, roles_for, roles_words
from store.repositories.slack_messages import OPT_OUT_REVIEW
from tests.demo_org import (
    add_member,
    campaign_waiting_for_approval,
    deleted_campaign,
    demo,
    snapshot,
)
from tests.dispatch_harness import Backend, midday_clock, wait_for_state
from tests.fakes.slack import BOT_TOKEN
from tests.slack_harness import CHANNEL, SlackBot, running_bot
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

USER = {
    Role.OWNER: "U_OWNER",
    Role.ADMIN: "U_ADMIN",
    Role.PLANNER: "U_PLANNER",
    Role.APPROVER: "U_APPROVER",
    Role.VIEWER: "U_VIEWER",
}
# Actions kept in the table for work that has no door yet (none today). Wiring one
# to a command, button, form or route fails test_actions_without_a_door_have_none
# until its scenario is here.
NO_DOOR_YET: frozenset[Action] = frozenset()


def refusal(action: Action, role: Role) -> str:
    article = "an" if role.value[0] in "aeiou" else "a"
    needed = roles_words(roles_for(action))
    return f"To {DOING[action]} you need the {needed} role; you are {article} {role.value}."


# Slack scenarios: prepare (returns what the command needs), the command, the proof.
Prepare = Callable[[SlackBot], Awaitable[int]]
Proof = Callable[[SlackBot, str, int], Awaitable[None]]


async def _nothing(_bot: SlackBot) -> int:
    return 0


@dataclass(frozen=True, slots=True)
class SlackCase:
    typed: str  # the command after /comms; {n} is what prepare returned
    worked: Proof
    prepare: Prepare = _nothing
    button: str | None = None  # pressed with ``typed`` as its value, instead of typing it


async def _one(bot: SlackBot, query: Any) -> Any:
    async with bot.database.reading() as session:
        return await session.scalar(query)


def said(fragment: str) -> Proof:
    async def proof(bot: SlackBot, _user: str, _n: int) -> None:
        await bot.said(fragment)

    return proof


def told(fragment: str) -> Proof:
    async def proof(bot: SlackBot, user: str, _n: int) -> None:
        await bot.told(fragment, user=user)

    return proof


async def _conversation_started(bot: SlackBot, user: str, _n: int) -> None:
    await bot.said(f"<@{user}> is preparing a new campaign")
    await bot.said("What should the campaign be called?")  # asked once the thread is stored
    assert await _one(bot, select(Conversation.id).where(Conversation.user_id == user))


async def _approved(bot: SlackBot, user: str, campaign_id: int) -> None:
    await bot.said(f"Campaign {campaign_id} approved by <@{user}>")
    # Sent to the end: no batch may still be in a worker when the bot stops.
    await wait_for_state(bot.database, campaign_id, {CampaignState.COMPLETED})
    audited = await _one(
        bot, select(AuditEntry.actor).where(AuditEntry.action == "campaign.approved")
    )
    assert audited == f"slack:{user}"


async def _restored(bot: SlackBot, user: str, campaign_id: int) -> None:
    await bot.said(f"<@{user}> restored campaign {campaign_id}")
    campaign = await _one(bot, select(Campaign).where(Campaign.id == campaign_id))
    assert campaign.deleted_at is None


async def _exported_person(bot: SlackBot, user: str, _n: int) -> None:
    await bot.told("I sent you the export in our direct message", user=user)
    [upload] = bot.fake.payloads("files.completeUploadExternal")
    assert upload["channel_id"] != CHANNEL  # the asker's direct message, not the channel


async def _erased(bot: SlackBot, user: str, _n: int) -> None:
    await bot.said(f"<@{user}> erased a person's data at their request")
    async with bot.database.reading() as session:
        names = set(await session.scalars(select(Guest.name)))  # encrypted: compared here
    assert "Lucía Alvarez" not in names


async def _venue_changed(bot: SlackBot, _user: str, _n: int) -> None:
    await bot.said("to The Barn")
    assert await _one(bot, select(Wedding.venue_name)) == "The Barn"


async def _guest_added(bot: SlackBot, _user: str, _n: int) -> None:
    await bot.said("added Jo Bloggs")
    assert await _one(bot, select(Guest.id).where(Guest.email_index == "jo@example.com"))


async def _exported(bot: SlackBot, _user: str, _n: int) -> None:
    await bot.wait_for(lambda: bot.fake.payloads("files.completeUploadExternal"), what="a file")


async def _review_card(bot: SlackBot) -> int:
    """A likely opt-out's review card, as the web process posts and records it."""
    found = await demo(bot.database)
    posted = await web_client(bot.settings.slack, BOT_TOKEN).chat_postMessage(
        channel=CHANNEL, text="Likely opt-out: please review"
    )
    async with bot.database.transaction() as session:
        card = SlackMessage(
            organisation_id=found.organisation_id,
            purpose=OPT_OUT_REVIEW,
            channel_id=CHANNEL,
            ts=str(posted["ts"]),
        )
        session.add(card)
        await session.flush()
        return card.id


async def _reviewed(bot: SlackBot, user: str, review_id: int) -> None:
    await bot.told(f"Review #{review_id} is marked reviewed", user=user)
    card = await _one(bot, select(SlackMessage).where(SlackMessage.id == review_id))
    assert card.closed_by == user


async def _granted(bot: SlackBot, _user: str, _n: int) -> None:
    await bot.said("added <@U_NEWBIE> as planner")
    assert await _one(bot, select(Member.role).where(Member.slack_user_id == "U_NEWBIE")) == (
        Role.PLANNER
    )


async def _renamed(bot: SlackBot, _user: str, _n: int) -> None:
    await bot.said("Evergreen Events")
    assert await _one(bot, select(Organisation.name)) == "Evergreen Events"


async def _muted(bot: SlackBot, user: str, _n: int) -> None:
    await bot.told("Rule `queue-backlog` is muted until", user=user)
    rule = await _one(bot, select(AlertRule).where(AlertRule.slug == "queue-backlog"))
    assert rule.muted_until is not None


SLACK: dict[Action, SlackCase] = {
    Action.READ: SlackCase("wedding list", said("Alex & Sam")),
    Action.VIEW_COMPLIANCE: SlackCase("templates", said("Built-in templates")),
    Action.VIEW_STATS: SlackCase("stats", said("figures")),
    Action.PLAN_CAMPAIGN: SlackCase("campaign new", _conversation_started),
    Action.APPROVE_CAMPAIGN: SlackCase(
        "campaign approve {n}", _approved, lambda bot: campaign_waiting_for_approval(bot.database)
    ),
    Action.RESTORE_CAMPAIGN: SlackCase(
        "campaign restore {n}", _restored, lambda bot: deleted_campaign(bot.database)
    ),
    Action.MANAGE_WEDDINGS: SlackCase('wedding set venue "The Barn"', _venue_changed),
    Action.MANAGE_GUESTS: SlackCase('guests add "Jo Bloggs" jo@example.com', _guest_added),
    Action.EXPORT_GUESTS: SlackCase("guests export", _exported),
    Action.REVIEW_OPT_OUTS: SlackCase("optouts keep {n}", _reviewed, _review_card),
    Action.EXPORT_PERSON: SlackCase(
        "guests export-person lucia.alvarez@example.com", _exported_person
    ),
    Action.ERASE_PERSON: SlackCase("lucia.alvarez@example.com", _erased, button="person_erase"),
    Action.MANAGE_ROLES: SlackCase("roles grant <@U_NEWBIE> planner", _granted),
    Action.MANAGE_ORGANISATION: SlackCase('org set name "Evergreen Events"', _renamed),
    Action.MANAGE_ALERTS: SlackCase("alerts mute queue-backlog 2h", _muted),
    Action.READ_AUDIT: SlackCase("audit", told("Audit log of Evergreen Weddings")),
}
# Operator API scenarios: a route every role's token is sent to, and a key its answer has.
API: dict[Action, tuple[str, str]] = {
    Action.API_STATUS: ("/api/communications/queue/status", "waiting"),
    Action.API_ADMIN: ("/api/admin/metrics/dashboard", "sent_today"),
}


def test_every_action_has_a_case() -> None:
    covered = set(SLACK) | set(API)
    assert not set(SLACK) & set(API)
    assert not covered & NO_DOOR_YET
    missing = set(Action) - covered - NO_DOOR_YET
    assert not missing, f"add a scenario to the permission matrix for {sorted(missing)}"


def _wiring() -> BotWiring:
    """Every area registered, as the bot does, to see what each door declares."""
    bolt = AsyncApp(token="xoxb-unused", signing_secret="unused")
    wiring = BotWiring(cast(BotServices, None))
    for register in AREAS:
        register(bolt, wiring)
    return wiring


WIRING = _wiring()


def test_actions_without_a_door_have_none() -> None:
    declared = (
        {command.action for command in WIRING.table}
        | set(WIRING.buttons.values())
        | set(WIRING.forms.values())
        | {action for _, action, _ in ROUTES}
    )
    wired = declared & NO_DOOR_YET
    assert not wired, f"{sorted(wired)} now have a door: move them into SLACK or API above"


def test_buttons_and_forms_are_registered_only_through_the_guarded_wiring() -> None:
    """Bolt's own ``.action``/``.view`` would skip the role check; only router.py calls them."""
    for path in sorted(Path("bot/slack").glob("*.py")):
        if path.name == "router.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("action", "view", "shortcut"):
                owner = node.value
                assert not (isinstance(owner, ast.Name) and owner.id in ("bolt", "app")), (
                    f"{path}:{node.lineno} registers a Slack listener without its action"
                )


@asynccontextmanager
async def _demo_bot(
    database: Database, url: str, tmp_path: Path, redis_url: str | None = None
) -> AsyncIterator[SlackBot]:
    async with running_bot(database, url, tmp_path, midday_clock(), redis_url) as running:
        await add_member(running.database, "U_ADMIN", Role.ADMIN)
        # The first request links the workspace to the organisation (audited):
        # done here, so that what a refused request changes is nothing.
        await running.command("help", user="U_OWNER")
        await running.said("Example:")
        yield running


@pytest.fixture
async def bot(backend: Backend, tmp_path: Path) -> AsyncIterator[SlackBot]:
    """The matrix runs on SQLite and on PostgreSQL with Redis."""
    async with _demo_bot(backend.database, backend.url, tmp_path, backend.redis_url) as running:
        yield running


@pytest.fixture
async def door_bot(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> AsyncIterator[SlackBot]:
    """Refusals happen before any work, so trying every door once, on SQLite, is enough."""
    async with _demo_bot(sqlite_database, sqlite_database_url, tmp_path) as running:
        yield running


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(SLACK))
async def test_slack_matrix(bot: SlackBot, action: Action, role: Role) -> None:
    case = SLACK[action]
    prepared = await case.prepare(bot)
    before = await snapshot(bot.database)
    user = USER[role]
    if case.button is None:
        await bot.command(case.typed.format(n=prepared), user=user)
    else:
        await bot.click(case.button, case.typed, user=user, message_ts="1800000000.000001")
    if can(role, action):
        await case.worked(bot, user, prepared)
    else:
        await bot.told(refusal(action, role), user=user)
        assert await snapshot(bot.database) == before


@pytest.fixture
async def api(aiohttp_client: ClientFactory, database: Database) -> TestClient[Any, Any]:
    url = database.url.render_as_string(hide_password=False)
    return await aiohttp_client(create_app(app_settings(url)))


def _bearer(role: Role) -> dict[str, str]:
    # What `guestcomms token --role ROLE` prints.
    return {"Authorization": f"Bearer {ApiTokens([JWT_SECRET]).issue(role)}"}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(API))
async def test_api_matrix(
    api: TestClient[Any, Any], database: Database, action: Action, role: Role
) -> None:
    path, key = API[action]
    before = await snapshot(database)
    response = await api.get(path, headers=_bearer(role))
    body = await response.json()
    if can(role, action):
        assert response.status == 200, body
        assert key in body
    else:
        assert response.status == 403
        assert body["message"] == refusal(action, role)
        assert await snapshot(database) == before


# Every door, for every role its action leaves out.


def _refusing(actions: list[tuple[str, Action]]) -> list[Any]:
    return [
        pytest.param(name, action, id=name.replace(" ", "-"))
        for name, action in actions
        if roles_for(action) != frozenset(Role)
    ]


COMMANDS = _refusing([(" ".join(c.words), c.action) for c in WIRING.table])
BUTTONS = _refusing(list(WIRING.buttons.items()))
FORMS = _refusing(list(WIRING.forms.items()))
# A form is refused only once its fields read well, so each is filled in here.
FORM_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "campaign_form": (
        {
            "name": {"name": {"type": "plain_text_input", "value": "Save the date"}},
            "channels": {"channels": {"selected_option": {"value": "email"}}},
            "template": {"template": {"selected_option": {"value": "invitation"}}},
        },
        '{"channel": "C_PLANNING", "thread": null}',
    ),
    "campaign_reject_reason": (
        {"reason": {"reason": {"type": "plain_text_input", "value": "Wrong date"}}},
        '{"campaign": 1, "channel": "C_PLANNING"}',
    ),
}


def _denied(action: Action) -> list[Role]:
    return [role for role in Role if not can(role, action)]


def test_every_form_is_filled_in_for_the_refusal_test() -> None:
    assert set(WIRING.forms) == set(FORM_VALUES)


@pytest.mark.parametrize(("typed", "action"), COMMANDS)
async def test_every_command_refuses_the_roles_it_leaves_out(
    door_bot: SlackBot, typed: str, action: Action
) -> None:
    before = await snapshot(door_bot.database)
    for role in _denied(action):
        await door_bot.command(typed, user=USER[role])
        await door_bot.told(refusal(action, role), user=USER[role])
    assert await snapshot(door_bot.database) == before


@pytest.mark.parametrize(("action_id", "action"), BUTTONS)
async def test_every_button_refuses_the_roles_it_leaves_out(
    door_bot: SlackBot, action_id: str, action: Action
) -> None:
    campaign_id = await campaign_waiting_for_approval(door_bot.database)
    before = await snapshot(door_bot.database)
    for role in _denied(action):
        user = USER[role]
        await door_bot.click(action_id, str(campaign_id), user=user, message_ts="1800000000.1")
        await door_bot.told(refusal(action, role), user=USER[role])
    assert await snapshot(door_bot.database) == before


@pytest.mark.parametrize(("callback_id", "action"), FORMS)
async def test_every_form_refuses_the_roles_it_leaves_out(
    door_bot: SlackBot, callback_id: str, action: Action
) -> None:
    await campaign_waiting_for_approval(door_bot.database)
    values, metadata = FORM_VALUES[callback_id]
    before = await snapshot(door_bot.database)
    for role in _denied(action):
        user = USER[role]
        await door_bot.submit_view(callback_id, values, user=user, private_metadata=metadata)
        await door_bot.told(refusal(action, role), user=USER[role])
    assert await snapshot(door_bot.database) == before


@pytest.mark.parametrize(
    ("path", "action"),
    [
        pytest.param(path.replace("{campaign_id}", "1"), action, id=path)
        for path, action, _ in ROUTES
        if roles_for(action) != frozenset(Role)
    ],
)
async def test_every_route_refuses_the_roles_it_leaves_out(
    api: TestClient[Any, Any], path: str, action: Action
) -> None:
    for role in _denied(action):
        response = await api.get(path, headers=_bearer(role))
        assert response.status == 403
        assert (await response.json())["message"] == refusal(action, role)


def test_the_readme_shows_the_table_as_it_is() -> None:
    """README's role table (For owners and admins → Roles) says what the code enforces."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("### Roles", 1)[1].split("###", 1)[0]
    by_doing = {doing: action for action, doing in DOING.items()}
    shown: dict[Action, frozenset[Role]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if cells[0] in by_doing:
            marks = cells[-len(Role) :]
            shown[by_doing[cells[0]]] = frozenset(
                role for role, mark in zip(Role, marks, strict=True) if mark == "✓"
            )
    assert shown == dict(ALLOWED)
