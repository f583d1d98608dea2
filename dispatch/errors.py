"""Typed errors of the dispatch layer; the edges turn them into HTTP or Slack answers."""

from __future__ import annotations


class DispatchError(Exception):
    """Root of every error the dispatch layer raises on purpose."""


class TemplateRefused(DispatchError):
    """A planner's template cannot be used; the message names the part and why."""


class InvalidUnsubscribeToken(DispatchError):
    """The token was altered, truncated, or signed with a key we no longer accept."""


class ExpiredUnsubscribeToken(InvalidUnsubscribeToken):
    """The token is genuine but older than the accepted age."""

    def __init__(self, message: str, organisation_id: int | None = None) -> None:
        super().__init__(message)
        # Genuine, so trusted: the page for an old link can name who sent it.
        self.organisation_id = organisation_id


class InvalidTrackingToken(DispatchError):
    """An open or click token that was altered, truncated or signed with another key."""
