"""Errors of the HTTP layer; each becomes an HTTP answer at the edge."""

from __future__ import annotations


class HandlersError(Exception):
    """Root of the HTTP layer's errors."""


class NotConfigured(HandlersError):
    """A setting the app needs is missing; the message names it."""


class InvalidToken(HandlersError):
    """An operator API token is malformed, expired or not signed by us; the message says which."""


class Forbidden(HandlersError):
    """The caller is known but may not do this; the message names what it needs."""


class BadParameter(HandlersError):
    """A request parameter is missing or invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
