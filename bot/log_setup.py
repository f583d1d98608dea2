"""Structured logs: readable on a terminal, JSON lines everywhere else, with no secrets
and no guests' addresses in them.

Every line — ours through structlog, and the libraries' through the standard
``logging`` module — passes the same ``LogRedactor`` last before it is
written: the values of the secret settings (tokens, auth tokens, signing
keys, passwords, the password in a database or Redis URL, the Sentry DSN),
anything that looks like a credential (Authorization headers, Slack tokens,
``user:password@`` in a URL), phone numbers and email addresses become
placeholders, in every field and in exception text.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from pydantic import BaseModel, SecretStr

from handlers.redaction import PHONE, redact

if TYPE_CHECKING:
    from bot.settings import Settings

SECRET = "[secret]"  # noqa: S105 (a placeholder, not a secret)
# Field names whose values are credentials whatever they hold.
_SECRET_KEYS = re.compile(r"(?i)(authorization|password|passwd|secret|token|api_key|dsn|cookie)$")
_CREDENTIALS = (
    # Authorization: Bearer xoxb-…, Basic dXNlcjpwYXNz, and bare bearer tokens
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+(\s+[^\s\"',}]+)?"), r"\1"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 "),
    # Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xapp-
    (re.compile(r"\bx(?:ox[abpr]|app)-[A-Za-z0-9-]{8,}"), ""),
    # user:password@host in any URL (a DSN pasted into an error message)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(?=@)"), r"\1"),
)
# A phone number inside a URL's query string: To=%2B14155550100
_ENCODED_PHONE = re.compile(r"%2B\d{7,15}(?!\d)")
# Shorter values would be found inside ordinary words.
MIN_SECRET_LENGTH = 6


class LogRedactor:
    """A structlog processor; ``know`` tells it the values of this process's secrets."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()

    def know(self, values: Iterable[str]) -> None:
        known = set(self._secrets) | {v for v in values if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a key that contains another is replaced whole.
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event_dict.items()):
            event_dict[key] = self._clean(key, value)
        return event_dict

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, SECRET)
        for pattern, keep in _CREDENTIALS:
            value = pattern.sub(keep + SECRET, value)
        value = _ENCODED_PHONE.sub(PHONE, value)
        return redact(value)

    def _clean(self, key: object, value: Any) -> Any:
        if isinstance(key, str) and _SECRET_KEYS.search(key) and value not in (None, ""):
            return SECRET
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self._clean(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(None, item) for item in value]
        # Anything else is written as its text (an exception, a URL object): cleaned too.
        return self.text(str(value))


REDACTOR = LogRedactor()


def keep_out_of_logs(settings: Settings) -> None:
    """Tell the redactor this process's secrets: every secret setting's value, and the
    credentials inside URL settings."""
    REDACTOR.know(_secret_values(settings))


def _secret_values(settings: Settings) -> list[str]:
    values: list[str] = []
    for part in (
        settings.store,
        settings.dispatch,
        settings.web,
        settings.slack,
        settings.reporting,
    ):
        for name in type(part).model_fields:
            values += _secrets_in(name, getattr(part, name, None))
    return values


def _secrets_in(name: str, value: object) -> list[str]:
    if isinstance(value, SecretStr):
        text = value.get_secret_value()
        return [text, *_url_credentials(text)]
    if isinstance(value, list | tuple):
        return [found for item in value for found in _secrets_in(name, item)]
    if isinstance(value, str) and (name.endswith("_url") or name.endswith("_dsn")):
        return _url_credentials(value)
    if isinstance(value, BaseModel):
        return [found for field in type(value).model_fields for found in _secrets_in(field, value)]
    return []


def _url_credentials(text: str) -> list[str]:
    """The password of ``scheme://user:password@host`` (and a Sentry DSN's key, its user)."""
    if "://" not in text:
        return []
    try:
        parts = urlsplit(text)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    if parts.username and parts.scheme.startswith("http") and not parts.password:
        found.append(parts.username)  # https://<key>@o0.ingest.sentry.io/1
    return [value for value in found if value]


def configure_logging(level: int = logging.INFO) -> None:
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_StderrLogger,
        # Not cached: a module's logger follows a later configure_logging().
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    if not [h for h in root.handlers if not isinstance(h, _StderrHandler)]:
        # As logging.basicConfig would: only when nobody (Dramatiq's CLI) set one up.
        for ours in root.handlers[:]:
            root.removeHandler(ours)
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    _redact_standard_logging()
    # twilio's HTTP client logs every request and response at INFO (the URL
    # with the guest's number, the headers): personal data in the logs, and
    # ten lines per text that Dramatiq's CLI, which logs at INFO, would carry
    # through a pipe to its parent process.
    logging.getLogger("twilio").setLevel(logging.WARNING)


def _redact_standard_logging() -> None:
    """The libraries' log lines (aiohttp, dramatiq, twilio, …) are cleaned as they are
    made, so every handler writes them clean: ours, and those Dramatiq's CLI sets up to
    carry its workers' lines to the parent process."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", False):
        return

    def clean_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            record.msg, record.args = REDACTOR.text(record.getMessage()), None
        except (TypeError, ValueError):  # arguments that do not fit the message
            record.msg, record.args = REDACTOR.text(str(record.msg)), None
        if record.exc_info and record.exc_info[0] is not None:
            told = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = REDACTOR.text(told)
        if record.stack_info:
            record.stack_info = REDACTOR.text(record.stack_info)
        return record

    clean_record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(clean_record)


class _StderrLogger:
    """structlog's output: whatever ``sys.stderr`` is when a line is written (a CLI run
    in a test has its own), one whole line at a time."""

    _lock = threading.Lock()

    def __init__(self, *_args: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        with self._lock:
            print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The standard library's lines, to the current ``sys.stderr`` too."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass
