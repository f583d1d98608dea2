"""Errors of the HTTP layer; each becomes an HTTP answer at the edge."""

from __future__ import annotations


class HandlersError(Exception):
    """Root of the HTTP layer's errors."""


class NotConfigured(HandlersError):
    """A setting the app needs is missing; the message names it."""
