"""What the console sends for a typed line: mentions and the channel as Slack would
send them once picked from its lists, everything else as typed."""

from __future__ import annotations

import pytest

from bot.console.terminal_text import as_slack_would_send, readable

MEMBERS = {"U_PLANNER": "Pat Planner", "U_APPROVER": "Avery Approver", "U_OWNER": "Olivia Owner"}


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("roles grant @avery admin", "roles grant <@U_APPROVER> admin"),
        ("roles grant @U_OWNER admin", "roles grant <@U_OWNER> admin"),
        ("roles grant @sam admin", "roles grant @sam admin"),  # no such member: as typed
        ("wedding set channel #planning", "wedding set channel <#C0PLANNING|planning>"),
        ("wedding set channel #planning-team", "wedding set channel #planning-team"),
        ('guests add "Jo" jo@example.com', 'guests add "Jo" jo@example.com'),
    ],
)
def test_typed_mentions_become_slacks(typed: str, sent: str) -> None:
    assert as_slack_would_send(typed, MEMBERS) == sent


def test_a_channel_the_bot_names_by_id_reads_as_its_name() -> None:
    assert readable("set channel to <#C0PLANNING>.") == "set channel to #planning."
    assert readable("in <#C0PLANNING|planning> and <#C999>") == "in #planning and #C999"
