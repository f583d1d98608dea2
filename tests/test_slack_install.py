"""A multi-workspace install through Bolt's OAuth flow, against the Slack fake:
``/slack/install`` → Slack's consent URL with a state → ``/slack/oauth_redirect`` →
the installation stored and the team linked to a new organisation → that team's
commands are answered with that team's own bot token."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from store.database import Database
from store.enums import Role
from store.models import AuditEntry, Member, Organisation, slack_installations
from tests.dispatch_harness import midday_clock
from tests.install_helpers import STATE_COOKIE, begin_install
from tests.slack_harness import running_bot


async def test_an_install_links_a_new_organisation_and_its_token_answers(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    async with running_bot(database, url, tmp_path, midday_clock(), oauth=True) as bot:
        bot.fake.add_install_code("code-1", "T_BLOSSOM", "Blossom Weddings", "U_FOUNDER")
        state, cookie = await begin_install(bot)
        answer = await bot.http.get(
            "/slack/oauth_redirect",
            params={"code": "code-1", "state": state},
            headers={"Cookie": f"{STATE_COOKIE}={cookie}"},
        )
        assert answer.status == 200, await answer.text()

        async with bot.database.reading() as session:
            installed = (await session.execute(select(slack_installations))).mappings().one()
            organisation = await session.scalar(
                select(Organisation).where(Organisation.slack_team_id == "T_BLOSSOM")
            )
            assert organisation is not None
            founder = await session.scalar(
                select(Member).where(Member.organisation_id == organisation.id)
            )
            actions = set(
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.organisation_id == organisation.id)
                )
            )
        assert installed["team_id"] == "T_BLOSSOM"
        team_token = installed["bot_token"]
        assert team_token in bot.fake.team_tokens
        assert (organisation.name, organisation.slug) == ("Blossom Weddings", "blossom-weddings")
        assert founder is not None
        assert (founder.slack_user_id, founder.role) == ("U_FOUNDER", Role.OWNER)
        assert {
            "organisation.created",
            "organisation.slack_linked",
            "member.role_granted",
        } <= actions

        await bot.command("help", user="U_FOUNDER", team="T_BLOSSOM")
        await bot.said("Example:")
        assert bot.fake.tokens_used("chat.postMessage") == [team_token]

        # The new owner's organisation is its own: the demo wedding is not there.
        await bot.command("wedding list", user="U_FOUNDER", team="T_BLOSSOM")
        await bot.said("Blossom Weddings has no weddings yet.")


async def test_a_forged_or_replayed_state_installs_nothing(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> None:
    async with running_bot(
        sqlite_database, sqlite_database_url, tmp_path, midday_clock(), oauth=True
    ) as bot:
        bot.fake.add_install_code("code-1", "T_BLOSSOM", "Blossom Weddings", "U_FOUNDER")
        state, cookie = await begin_install(bot)
        forged = await bot.http.get(
            "/slack/oauth_redirect",
            params={"code": "code-1", "state": "not-the-state"},
            headers={"Cookie": f"{STATE_COOKIE}=not-the-state"},
        )
        assert forged.status in (400, 401)
        no_cookie = await bot.http.get(
            "/slack/oauth_redirect", params={"code": "code-1", "state": state}
        )
        assert no_cookie.status == 400
        async with bot.database.reading() as session:
            stored = await session.scalar(select(func.count()).select_from(slack_installations))
            linked = await session.scalar(
                select(func.count()).where(Organisation.slack_team_id == "T_BLOSSOM")
            )
        assert (stored, linked) == (0, 0)
        assert cookie


async def test_install_is_404_without_oauth_settings(
    sqlite_database: Database, sqlite_database_url: str, tmp_path: Path
) -> None:
    async with running_bot(sqlite_database, sqlite_database_url, tmp_path, midday_clock()) as bot:
        answer = await bot.http.get("/slack/install", allow_redirects=False)
        assert answer.status == 404
        assert "SLACK_CLIENT_ID" in (await answer.json())["message"]
