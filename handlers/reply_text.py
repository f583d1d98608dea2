"""The guest's own words in an email reply: no quoted original, no signature.

Replies carry the message they answer ("On Sat, … wrote:" and "> Reply STOP
to unsubscribe"), so reading the whole text would take our own footer for the
guest's opt-out. The splitting into replies, quote headers (Apple, Gmail,
Outlook; several languages) and signatures ("--", "Sent from my iPhone",
"Best regards") is ``mail-parser-reply``'s; what is ours:

- only the top part counts — text before any quote header;
- lines that start with ">" are quotes wherever they stand;
- HTML-only replies are turned into text first, leaving out blockquotes and
  the quote containers mail clients mark;
- the parser's regular expressions take time that grows with the square of
  the length, so it reads only the start of a long message (a guest's answer
  is at the top) and runs off the event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

# Far more than any answer a guest writes above the quote; bounded so a
# hostile message costs a fraction of a second at most.
READ_LIMIT = 4000
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "da", "sv", "pl", "cs"]

_QUOTED_LINE = re.compile(r"^\s*>")
_BLANK_LINES = re.compile(r"\n{3,}")


def reply_text(text: str | None, html: str | None = None) -> str:
    """The newest reply in a message body, without quotes or signature; "" if none."""
    source = text if text and text.strip() else html_to_text(html or "")
    message = EmailReplyParser(languages=LANGUAGES).read(text=source[:READ_LIMIT])
    if not message.replies:
        return ""
    top = message.replies[0]
    if top.headers:
        # The message starts with a quote header: the guest wrote nothing above it.
        return ""
    lines = [line for line in str(top.body).splitlines() if not _QUOTED_LINE.match(line)]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


async def reply_text_off_loop(text: str | None, html: str | None = None) -> str:
    return await asyncio.to_thread(reply_text, text, html)


# Elements whose content is never the guest's text.
_SKIPPED = frozenset({"blockquote", "head", "script", "style", "template", "title"})
# Containers mail clients put the quoted original in (Gmail, Yahoo, Outlook, Apple).
_QUOTE_MARKERS = ("gmail_quote", "yahoo_quoted", "divrplyfwdmsg", "appendonsend", "moz-cite")
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        # Open elements, each with whether it hides its content. Mail HTML often
        # leaves elements unclosed: an end tag closes up to its own start tag.
        self._open: list[tuple[str, bool]] = []
        self._hiding = 0  # how many of them hide their content
        self._counts: Counter[str] = Counter()  # open elements by tag

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append("\n")
        if tag in _VOID:
            return
        marks = " ".join(value or "" for name, value in attrs if name in ("class", "id")).lower()
        hides = tag in _SKIPPED or any(marker in marks for marker in _QUOTE_MARKERS)
        self._open.append((tag, hides))
        self._hiding += hides
        self._counts[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self.parts.append("\n")
        if self._counts[tag]:
            while True:
                name, hides = self._open.pop()
                self._hiding -= hides
                self._counts[name] -= 1
                if name == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self._hiding:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, without quoted parts; a rough rendering, for reading."""
    parser = _TextOnly()
    parser.feed(html[: READ_LIMIT * 25])  # markup is verbose; the text is what is limited
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
