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

from dispatch.compose.css_colours import UnknownColour, parse_colour
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


class _Inventory(HTMLParser):
    """Which tags, attributes, style properties and link schemes a piece of HTML uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.items.add(f"<{tag}>")
        for name, value in attrs:
            self.items.add(f"the {name} attribute" if not name.startswith("on") else name)
            if name == "style":
                self.items.update(f"the {prop} style" for prop in _style(value or ""))
            if name in {"href", "src"} and value and ":" in value.split("/")[0]:
                self.items.add(value.split(":", 1)[0].strip().lower() + ": links")

    def handle_comment(self, data: str) -> None:
        self.items.add("comments")


def removed_by_sanitising(html: str) -> list[str]:
    """What sanitising took out (scripts, handlers, schemes…), ignoring harmless rewrites
    such as ``<br/>`` for ``<br>`` or changed quotes."""
    before, after = _Inventory(), _Inventory()
    before.feed(html)
    after.feed(sanitise_html(html))
    return sorted(before.items - after.items)


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
        background = self._colour(style, "background-color", parent.background, parent.background)
        color = self._colour(style, "color", parent.color, background)
        large = _is_large(style, tag) or parent.large
        if _is_tiny(style):
            self._add(
                "html_small_text",
                Severity.BLOCKING,
                f"Some text is set to {style['font-size']}, too small to read or hidden.",
                "Use the normal text size, or remove the text.",
            )
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

    def _colour(
        self,
        style: dict[str, str],
        name: str,
        inherited: tuple[int, int, int],
        behind: tuple[int, int, int],
    ) -> tuple[int, int, int]:
        value = style.get(name)
        if value is None:
            return inherited
        try:
            return parse_colour(value, behind) or inherited
        except UnknownColour:
            self._add(
                "html_colour_unknown",
                Severity.BLOCKING,
                f"The colour “{value}” cannot be checked for contrast.",
                "Write colours as #rrggbb or a standard colour name.",
            )
            return inherited

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
    text: str  # the words a reader sees, for the wording checks


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
    return HtmlReport(tuple(findings), tuple(reader.links), " ".join(reader.stack[0].text))


def _style(style: str) -> dict[str, str]:
    properties: dict[str, str] = {}
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        if value.strip():
            properties[name.strip().lower()] = (
                value.strip().lower().replace("!important", "").strip()
            )
    return properties


def _is_tiny(style: dict[str, str]) -> bool:
    match = re.fullmatch(r"([\d.]+)(px|pt|em|rem|%)?", style.get("font-size", "").replace(" ", ""))
    if not match:
        return False
    size, unit = float(match.group(1)), match.group(2) or "px"
    pixels = {"px": size, "pt": size * 4 / 3, "em": size * 16, "rem": size * 16, "%": size * 0.16}
    return pixels[unit] < 10


def _is_large(style: dict[str, str], tag: str) -> bool:
    if tag in {"h1", "h2"}:
        return True
    match = re.fullmatch(r"([\d.]+)px", style.get("font-size", ""))
    if not match:
        return False
    size = float(match.group(1))
    bold = style.get("font-weight") in {"bold", "bolder", "600", "700", "800", "900"}
    return size >= 24 or (bold and size >= 18.66)


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
