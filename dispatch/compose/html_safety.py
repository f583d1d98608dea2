"""Planner HTML made safe (nh3) and checked against WCAG 2.1 AA as it applies to email.

Sanitising removes scripts, event handlers, ``javascript:`` links and any
style but a few text properties. The checks then read what is left: images
need alt text, links need text that makes sense on its own, headings should
not skip levels, and text must contrast 4.5:1 with its background (3:1 when
large).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import nh3

from dispatch.compose.findings import Finding, Severity

ALLOWED_TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
        "img", "li", "ol", "p", "small", "span", "strong", "table", "tbody", "td", "th",
        "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"style", "lang", "dir"},
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
ALLOWED_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font-weight", "font-style", "font-size",
        "text-align", "text-decoration", "margin", "padding",
    }
)  # fmt: skip
URL_SCHEMES = frozenset({"https", "http", "mailto", "tel"})

# The page around the planner's HTML (see email_message): dark text on white.
PAGE_TEXT = (31, 31, 31)
PAGE_BACKGROUND = (255, 255, 255)
VAGUE_LINK_TEXT = frozenset(
    {"click here", "here", "click", "link", "this link", "read more", "more", "this", "go"}
)


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
        link_rel=None,
        strip_comments=True,
    )


@dataclass
class _Element:
    tag: str
    color: tuple[int, int, int]
    background: tuple[int, int, int]
    large: bool
    text: list[str] = field(default_factory=list)
    img_alts: list[str] = field(default_factory=list)
    href: str | None = None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Element] = [_Element("body", PAGE_TEXT, PAGE_BACKGROUND, False)]
        self.findings: dict[str, Finding] = {}
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.last_heading = 0
        self.low_contrast: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        parent = self.stack[-1]
        style = _style(attributes.get("style") or "")
        color = _colour(style.get("color")) or parent.color
        background = _colour(style.get("background-color")) or parent.background
        large = _is_large(style, tag) or parent.large
        if tag == "img":
            alt = attributes.get("alt")
            if alt is None:
                self._add(
                    "html_image_alt",
                    Severity.BLOCKING,
                    f"An image ({attributes.get('src') or 'no source'}) has no alt text, so "
                    "screen-reader users hear nothing about it.",
                    'Add alt="what the image shows", or alt="" if it is decoration.',
                )
            for element in self.stack:
                if element.tag == "a":
                    element.img_alts.append(alt or "")
            return
        if tag in {"br", "hr"}:
            return
        if re.fullmatch(r"h[1-6]", tag):
            level = int(tag[1])
            if self.last_heading and level > self.last_heading + 1:
                self._add(
                    "html_heading_order",
                    Severity.WARNING,
                    f"A heading jumps from level {self.last_heading} to {level}.",
                    "Use heading levels in order (h1, then h2, then h3).",
                )
            self.last_heading = level
        self.stack.append(_Element(tag, color, background, large, href=attributes.get("href")))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                closed = self.stack[depth:]
                del self.stack[depth:]
                for element in reversed(closed):
                    self._close(element)
                return

    def handle_data(self, data: str) -> None:
        if not data.strip():
            return
        for element in self.stack:
            element.text.append(data)
        current = self.stack[-1]
        ratio = contrast_ratio(current.color, current.background)
        needed = 3.0 if current.large else 4.5
        if ratio < needed:
            self.low_contrast.add(f"{ratio:.1f}:1")

    def _close(self, element: _Element) -> None:
        if element.tag != "a" or element.href is None:
            return
        text = " ".join(" ".join(element.text).split())
        label = text or " ".join(alt for alt in element.img_alts if alt)
        self.links.append((element.href, label))
        if not label:
            self._add(
                "html_link_text",
                Severity.BLOCKING,
                f"A link to {element.href} has no text, so nobody can tell where it goes.",
                "Put words inside the link, such as “Reply to the invitation”.",
            )
        elif label.lower().strip(" .!:") in VAGUE_LINK_TEXT:
            self._add(
                "html_link_text",
                Severity.WARNING,
                f"The link text “{label}” does not say where the link goes.",
                "Use words that make sense on their own, such as “See the venue map”.",
            )

    def finish(self) -> None:
        """Close what the HTML left open, so unclosed links are still checked."""
        self.close()
        while len(self.stack) > 1:
            self._close(self.stack.pop())

    def _add(self, code: str, severity: Severity, message: str, fix: str) -> None:
        self.findings.setdefault(code + message, Finding(code, severity, message, fix))


@dataclass(frozen=True, slots=True)
class HtmlReport:
    findings: tuple[Finding, ...]
    links: tuple[tuple[str, str], ...]  # (href, link text)


def check_html(html: str) -> HtmlReport:
    reader = _Reader()
    reader.feed(html)
    reader.finish()
    findings = list(reader.findings.values())
    if reader.low_contrast:
        worst = min(reader.low_contrast, key=lambda r: float(r.split(":")[0]))
        findings.append(
            Finding(
                "html_contrast",
                Severity.BLOCKING,
                f"Some text has too little contrast with its background ({worst}; "
                "at least 4.5:1 is needed, 3:1 for large text).",
                "Use a darker text colour or a lighter background.",
            )
        )
    return HtmlReport(tuple(findings), tuple(reader.links))


def _style(style: str) -> dict[str, str]:
    properties: dict[str, str] = {}
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        if value.strip():
            properties[name.strip().lower()] = value.strip().lower()
    return properties


def _is_large(style: dict[str, str], tag: str) -> bool:
    if tag in {"h1", "h2"}:
        return True
    match = re.fullmatch(r"([\d.]+)px", style.get("font-size", ""))
    if not match:
        return False
    size = float(match.group(1))
    bold = style.get("font-weight") in {"bold", "bolder", "600", "700", "800", "900"}
    return size >= 24 or (bold and size >= 18.66)


_NAMED = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0),
    "green": (0, 128, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "gray": (128, 128, 128), "grey": (128, 128, 128), "silver": (192, 192, 192),
    "orange": (255, 165, 0), "pink": (255, 192, 203), "navy": (0, 0, 128),
    "maroon": (128, 0, 0), "purple": (128, 0, 128), "lightgray": (211, 211, 211),
    "lightgrey": (211, 211, 211), "gold": (255, 215, 0), "ivory": (255, 255, 240),
}  # fmt: skip


def _colour(value: str | None) -> tuple[int, int, int] | None:
    """A CSS colour as RGB; None for what cannot be known (then the parent's applies)."""
    if not value:
        return None
    value = value.strip()
    if value in _NAMED:
        return _NAMED[value]
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        return (int(value[1] * 2, 16), int(value[2] * 2, 16), int(value[3] * 2, 16))
    if re.fullmatch(r"#[0-9a-f]{6}", value):
        return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
    match = re.fullmatch(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*[\d.]+)?\)", value)
    if match:
        red, green, blue = (min(255, int(group)) for group in match.groups())
        return (red, green, blue)
    return None


def contrast_ratio(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG 2.1 contrast ratio of two sRGB colours, from 1:1 to 21:1."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
