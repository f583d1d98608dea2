"""Typed errors of the Slack bot; each becomes a plain reply to the person who asked."""

from __future__ import annotations


class SlackBotError(Exception):
    """Root of every error the bot answers in Slack instead of failing."""


class WorkspaceNotLinked(SlackBotError):
    """The Slack workspace is not linked to any organisation."""

    def __init__(self, team_id: str) -> None:
        super().__init__(
            f"This Slack workspace ({team_id}) is not linked to a guestcomms organisation. "
            "An operator links it by setting the organisation's Slack team id "
            "(or by installing the app through /slack/install)."
        )


class NotAMember(SlackBotError):
    """The Slack user is not a member of the organisation."""

    def __init__(self, user_id: str, organisation_name: str) -> None:
        super().__init__(
            f"<@{user_id}>, you are not a member of {organisation_name} in guestcomms yet. "
            "An owner or admin can add you with `/comms roles grant @you planner`."
        )


class UsageError(SlackBotError):
    """A command was typed wrongly; the message shows the right usage."""


class InvalidValue(SlackBotError):
    """A value typed for a named field cannot be used; nothing was changed."""

    def __init__(self, field: str, reason: str, example: str = "") -> None:
        """``example``: a whole command that would work, shown as code."""
        hint = f" For example: `{example}`" if example else ""
        # Reasons from libraries (email-validator's) end with their own full stop.
        reason = reason.rstrip(".")
        super().__init__(f"I could not use that {field}: {reason}. Nothing was changed.{hint}")
        self.field = field


class FileRefused(SlackBotError):
    """A shared file cannot be fetched or read; the message says why and what to do."""


class MembershipRefused(SlackBotError):
    """A change to the members would break a rule (the last owner, an owner's place)."""
