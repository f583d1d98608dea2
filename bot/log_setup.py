"""Structured logs: readable on a terminal, JSON lines everywhere else."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: int = logging.INFO) -> None:
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: a module's logger follows a later configure_logging()
        # (each CLI run in tests configures again, with its own stderr).
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    # twilio's HTTP client logs every request and response at INFO (the URL
    # with the guest's number, the headers): personal data in the logs, and
    # ten lines per text that Dramatiq's CLI, which logs at INFO, would carry
    # through a pipe to its parent process.
    logging.getLogger("twilio").setLevel(logging.WARNING)
