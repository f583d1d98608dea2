"""Spam and phishing signs, and a normal wedding message that has none."""

from __future__ import annotations

import pytest

from dispatch.compose.content_checks import check_links, check_subject, check_wording, urls_in


@pytest.mark.parametrize("subject", ["Re: Our wedding", "FWD: details", "fw:hello", "AW: Hochzeit"])
def test_a_first_message_may_not_pretend_to_be_a_reply(subject: str) -> None:
    findings = check_subject(subject)
    assert [(f.code, f.severity.value) for f in findings] == [("subject_misleading", "blocking")]


def test_an_honest_subject_passes() -> None:
    assert check_subject("You're invited: Alex & Sam, Saturday, June 12, 2027") == []
    assert check_subject("Reminder: RSVP by May 1") == []


def test_shouting_and_exclamation_runs_are_warned() -> None:
    codes = [f.code for f in check_subject("YOU ARE INVITED TO THE PARTY")]
    assert codes == ["spam_all_caps"]
    assert [f.code for f in check_wording("See you there!!!", "SMS")] == ["spam_exclamation"]
    assert [f.code for f in check_wording("Wow! Yes! Great!", "SMS")] == []


def test_trigger_phrases_are_named() -> None:
    findings = check_wording("Act now: limited time to RSVP", "email text")
    assert [f.message for f in findings] == [
        "The email text uses “act now”, “limited time”, which spam filters score against a message."
    ]


def test_links_that_hide_or_lie_about_where_they_go() -> None:
    links: list[tuple[str, str | None]] = [
        ("https://bit.ly/abc", None),
        ("http://192.0.2.1/rsvp", None),
        ("https://evil.example.net/login", "alexandsam.example.com"),
        ("https://rsvp.alexandsam.example.com", "alexandsam.example.com"),
        ("mailto:hello@example.com", "Email us"),
    ]
    findings = {(f.code, f.severity.value) for f in check_links(links, "SMS")}
    assert findings == {
        ("link_shortener", "blocking"),
        ("link_ip_address", "blocking"),
        ("link_insecure", "warning"),
        ("link_text_domain", "blocking"),
    }
    email = check_links([("https://bit.ly/abc", None)], "email")
    assert [f.severity.value for f in email] == ["warning"]


def test_urls_are_found_in_plain_text() -> None:
    text = "RSVP at https://alexandsam.example.com/rsvp. Map: www.example.com/map!"
    assert urls_in(text) == ["https://alexandsam.example.com/rsvp", "www.example.com/map"]


def test_links_without_a_scheme_or_hiding_behind_tricks_are_caught() -> None:
    text = "RSVP at bit.ly/x2 or https://3232235777/ or https://example.com@evil.example.net/x"
    urls = urls_in(text)
    assert urls == [
        "https://3232235777/",
        "https://example.com@evil.example.net/x",
        "bit.ly/x2",
    ]
    codes = {f.code for f in check_links([(u, None) for u in urls], "SMS")}
    assert codes == {"link_shortener", "link_ip_address", "link_userinfo"}
    assert urls_in("write to hello@example.com/") == []


def test_subjects_are_checked_for_trigger_phrases() -> None:
    assert [f.code for f in check_subject("Urgent: act now, free gift inside")] == ["spam_phrase"]
