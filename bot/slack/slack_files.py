"""Files to and from Slack: a shared guest list fetched with the bot token, an export uploaded.

The bot token goes only to Slack's own file host (or, in tests and the
console, the origin of SLACK_API_URL): ``files.info`` names the download URL,
and a URL anywhere else is refused rather than fetched (bot/slack/outbound_urls.py),
so a crafted file entry can never make the bot send its token to someone
else's server. Redirects are not followed for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import outbound_urls
from bot.slack.errors import FileRefused
from bot.slack.settings import SlackSettings

DOWNLOAD_SECONDS = 30


@dataclass(frozen=True, slots=True)
class SharedFile:
    name: str
    content: bytes


async def fetch_shared_file(
    client: AsyncWebClient, settings: SlackSettings, file_id: str, max_bytes: int
) -> SharedFile:
    """The file's bytes, at most ``max_bytes`` + 1 of them (the reader says "too big")."""
    try:
        answer = await client.files_info(file=file_id)
    except SlackApiError as error:
        reason = error.response.get("error", "unknown_error")
        raise FileRefused(
            f"Slack would not show me the file {file_id} ({reason}). Share it in a channel "
            "I am in, then try again."
        ) from None
    info: dict[str, Any] = answer.get("file") or {}
    name = str(info.get("name") or file_id)
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    origins = outbound_urls.allowed(outbound_urls.FILE_HOST, settings.slack_api_url)
    try:
        outbound_urls.checked(url, origins, name)
    except outbound_urls.UrlRefused as refused:
        raise FileRefused(
            f"I did not download {name}: its address is not Slack's file host, and I only "
            f"send my Slack token there ({refused})."
        ) from None
    size = info.get("size")
    if isinstance(size, int) and size > max_bytes:
        raise FileRefused(
            f"{name} is {size // 1024} KB; guest lists of up to {max_bytes // (1024 * 1024)} MB "
            "can be imported. Split it into smaller files."
        )
    content = await _download(url, client.token or "", max_bytes, name)
    return SharedFile(name, content)


async def _download(url: str, token: str, max_bytes: int, name: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_SECONDS)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise FileRefused(
                    f"Slack answered {response.status} when I downloaded {name}; "
                    "share it again and retry."
                )
            if response.content_type == "text/html":
                # Without a valid token Slack serves its sign-in page, not the file.
                raise FileRefused(
                    f"Slack gave me a sign-in page instead of {name}: the app needs the "
                    "files:read permission in this workspace."
                )
            return await response.content.read(max_bytes + 1)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise FileRefused(f"I could not download {name}: {error or 'timed out'}.") from None


async def upload_text(
    client: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str | None,
    filename: str,
    title: str,
    content: str,
    comment: str,
) -> None:
    """Share ``content`` as a file in the channel (Slack's upload in three steps)."""
    await client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        filename=filename,
        title=title,
        content=content,
        initial_comment=comment,
    )
