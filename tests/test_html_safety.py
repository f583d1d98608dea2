"""Planner HTML is cleaned and held to WCAG 2.1 AA where it applies to email."""

from __future__ import annotations

import pytest

from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.html_safety import (
    check_html,
    contrast_ratio,
    removed_by_sanitising,
    sanitise_html,
)
from tests.compose_helpers import ZOE, composer


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>Hi<script>alert(1)</script></p>", "<p>Hi</p>"),
        ('<p onclick="steal()" onmouseover="x()">Hi</p>', "<p>Hi</p>"),
        ('<a href="javascript:alert(1)">RSVP</a>', "<a>RSVP</a>"),
        ('<a href="JaVaScRiPt:alert(1)">RSVP</a>', "<a>RSVP</a>"),
        ('<img src="x" onerror="alert(1)" alt="map">', '<img src="x" alt="map">'),
        ('<iframe src="https://evil.example.com"></iframe><p>ok</p>', "<p>ok</p>"),
        ('<form action="https://evil"><input name="card"></form>', ""),
        (
            '<p style="color:#333;position:fixed;background:url(x)">a</p>',
            '<p style="color:#333">a</p>',
        ),
        ("<style>body{display:none}</style><p>a</p>", "<p>a</p>"),
    ],
)
def test_sanitising_removes_what_email_must_not_carry(dirty: str, clean: str) -> None:
    assert sanitise_html(dirty) == clean


def test_the_builtin_templates_pass_the_checks() -> None:
    for key in BUILTIN_TEMPLATES:
        html = composer(key).email_content(ZOE).html_fragment
        assert check_html(html).findings == (), key


def test_an_image_without_alt_text_blocks() -> None:
    findings = check_html('<p><img src="https://x.example.com/map.png"></p>').findings
    assert [(f.code, f.severity.value) for f in findings] == [("html_image_alt", "blocking")]
    assert check_html('<img src="deco.png" alt="">').findings == ()


def test_link_text_must_make_sense_on_its_own() -> None:
    vague = check_html('<p><a href="https://a.example.com">Click here</a></p>').findings
    assert [f.message for f in vague] == [
        "The link text “Click here” does not say where the link goes."
    ]
    empty = check_html('<a href="https://a.example.com"><img src="i.png" alt=""></a>').findings
    assert [f.severity.value for f in empty] == ["blocking"]
    image_link = check_html('<a href="https://a.example.com"><img src="i" alt="Venue map"></a>')
    assert image_link.findings == ()
    assert image_link.links == (("https://a.example.com", "Venue map"),)


def test_headings_should_not_skip_levels() -> None:
    findings = check_html("<h1>A</h1><h3>B</h3>").findings
    assert [f.code for f in findings] == ["html_heading_order"]
    assert check_html("<h1>A</h1><h2>B</h2><h3>C</h3><h2>D</h2>").findings == ()


@pytest.mark.parametrize(
    ("html", "passes"),
    [
        ('<p style="color:#767676">grey on white: 4.54:1</p>', True),
        ('<p style="color:#777777">a shade lighter: 4.48:1</p>', False),
        ('<p style="color:#ffffff;background-color:#1a56a8">white on blue</p>', True),
        (
            '<div style="background-color:black"><p style="color:navy">navy on black</p></div>',
            False,
        ),
        ('<h1 style="color:#949494">large text needs 3:1</h1>', True),
        ('<p style="color:#949494;font-size:24px">large by size</p>', True),
        ('<p style="color:#949494;font-size:16px">small</p>', False),
        ('<p style="color:rgb(200, 200, 200)">pale</p>', False),
        ('<p style="color:whitesmoke">named</p>', False),
        ('<p style="color:lightyellow">named</p>', False),
        ('<p style="color:#ffffff !important">important</p>', False),
        ('<p style="color:rgb(255 255 255)">space syntax</p>', False),
        ('<p style="color:#ffff">short hex with alpha</p>', False),
        ('<p style="color:hsl(0, 0%, 100%)">hsl</p>', False),
        ('<p style="color:transparent">invisible</p>', False),
        ('<p style="color:rgba(0, 0, 0, 0.5)">half black is grey: 3.9:1</p>', False),
        ('<p style="color:hsl(210, 80%, 25%)">dark blue</p>', True),
        ('<div style="background-color:transparent"><p>inherits white</p></div>', True),
    ],
)
def test_text_contrast(html: str, passes: bool) -> None:
    codes = [f.code for f in check_html(html).findings]
    assert ("html_contrast" not in codes) is passes


def test_contrast_ratio_matches_wcag_examples() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)


def test_a_colour_that_cannot_be_read_blocks() -> None:
    findings = check_html('<p style="color:blurple">x</p>').findings
    assert [(f.code, f.severity.value) for f in findings] == [("html_colour_unknown", "blocking")]


@pytest.mark.parametrize("size", ["0", "0px", "6px", "5pt", "0.4em"])
def test_tiny_or_hidden_text_blocks(size: str) -> None:
    findings = check_html(f'<p style="font-size:{size}">hidden</p>').findings
    assert [f.code for f in findings] == ["html_small_text"]


def test_harmless_rewrites_are_not_reported_as_removals() -> None:
    assert removed_by_sanitising("<p>a<br/>b</p><P>&eacute;</P>") == []
    assert removed_by_sanitising(
        '<p onclick="x()" style="position:fixed;color:red">a</p><script>1</script>'
        '<a href="javascript:alert(1)">x</a>'
    ) == [
        "<script>",
        "javascript: links",
        "onclick",
        "the href attribute",
        "the position style",
    ]
