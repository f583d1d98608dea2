"""Where the bot may send a request whose URL came from a request: Slack's hosts only.

Slack payloads carry URLs — a slash command's ``response_url``, a shared
file's ``url_private_download`` — and anyone who can forge or alter a
payload could point them at our own network (``127.0.0.1``, the cloud's
metadata service at ``169.254.169.254``) and have the bot fetch it, bot token
and all. So every such URL is checked here before anything is fetched: its
scheme, host and port must be one of Slack's for that purpose — or the
origin of ``SLACK_API_URL``, where tests and the console run their Slack
stand-in. No user:password part, no other port, no redirects (callers do
not follow them).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.slack.errors import SlackBotError

FILE_HOST = "files.slack.com"  # shared files' downloads
RESPONSE_HOST = "hooks.slack.com"  # slash commands' and buttons' response_url
DEFAULT_PORTS = {"https": 443, "http": 80}


class UrlRefused(SlackBotError):
    """A URL from a request points somewhere other than Slack; nothing was fetched."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = DEFAULT_PORTS.get(self.scheme)
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")


def allowed(slack_host: str, api_url: str | None) -> frozenset[Origin]:
    """Slack's host for this purpose over https, and SLACK_API_URL's origin when set."""
    origins = {Origin("https", slack_host, 443)}
    if api_url:
        api = _origin(api_url)
        if api is not None:
            origins.add(api)
    return frozenset(origins)


def checked(url: str, origins: frozenset[Origin], what: str) -> str:
    """``url`` when it points at one of ``origins``; otherwise ``UrlRefused`` naming
    where it pointed (never the whole URL: it may carry a token)."""
    origin = _origin(url)
    names = " or ".join(sorted(str(o) for o in origins))
    if origin is None:
        raise UrlRefused(f"{what} is not a web address at Slack ({names})")
    if "@" in urlsplit(url.strip()).netloc:
        # https://hooks.slack.com@evil.example/ reads as Slack to a person, not to a client.
        raise UrlRefused(f"{what} carries a user name or password; Slack's never do")
    if origin not in origins:
        raise UrlRefused(f"{what} points at {origin}, not at Slack ({names})")
    return url


def _origin(url: str) -> Origin | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, brackets that do not close
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return Origin(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])
