"""What makes a message look like spam or phishing, to filters and to guests."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from dispatch.compose.findings import Finding, Severity

URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")
# A bare "bit.ly/x2": carriers read it as a link even without a scheme.
_BARE_LINK = re.compile(r"(?i)(?<![@\w.-])((?:[a-z0-9-]+\.)+[a-z]{2,}/[^\s<>\"']*)")
_DOMAIN = re.compile(r"(?i)\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b")
_MISLEADING_PREFIX = re.compile(r"^\s*(re|fw|fwd|aw|tr|sv)\s*:", re.IGNORECASE)
LINK_SHORTENERS = frozenset(
    {
        "bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly",
        "rebrand.ly", "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "bl.ink",
    }
)  # fmt: skip
# Phrases spam filters score; harmless in a wedding message only by accident.
TRIGGER_PHRASES = (
    "act now", "100% free", "risk-free", "risk free", "limited time", "winner",
    "you have been selected", "cash bonus", "click here", "urgent", "guaranteed",
    "no obligation", "buy now", "order now", "free gift", "congratulations, you",
)  # fmt: skip


def check_subject(subject: str) -> list[Finding]:
    """Honesty and spam signs in a subject line; trigger phrases count here too."""
    findings: list[Finding] = []
    if not subject.strip():
        return [
            Finding(
                "subject_missing",
                Severity.BLOCKING,
                "The email has no subject.",
                "Write a subject that says what the message is about.",
            )
        ]
    if _MISLEADING_PREFIX.match(subject):
        findings.append(
            Finding(
                "subject_misleading",
                Severity.BLOCKING,
                f"The subject “{subject}” starts like a reply or forward, but this is a first "
                "message (CAN-SPAM forbids misleading subjects).",
                "Remove the “Re:” or “Fwd:”.",
            )
        )
    findings.extend(check_wording(subject, "subject"))
    return findings


def check_wording(text: str, where: str) -> list[Finding]:
    """All caps, piles of exclamation marks and spam trigger phrases in ``where``."""
    findings = _shouting(text, where)
    lowered = text.lower()
    phrases = [phrase for phrase in TRIGGER_PHRASES if phrase in lowered]
    if phrases:
        quoted = ", ".join(f"“{phrase}”" for phrase in phrases)
        findings.append(
            Finding(
                "spam_phrase",
                Severity.WARNING,
                f"The {where} uses {quoted}, which spam filters score against a message.",
                "Say it in your own words.",
            )
        )
    return findings


def _shouting(text: str, where: str) -> list[Finding]:
    findings: list[Finding] = []
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        findings.append(
            Finding(
                "spam_all_caps",
                Severity.WARNING,
                f"The {where} is mostly capital letters, which reads as shouting and as spam.",
                "Use normal capitalisation.",
            )
        )
    if re.search(r"[!?]{3,}|(?:![\s!]*){3,}", text):
        findings.append(
            Finding(
                "spam_exclamation",
                Severity.WARNING,
                f"The {where} has a run of exclamation marks, which spam filters score.",
                "One exclamation mark is plenty.",
            )
        )
    return findings


def urls_in(text: str) -> list[str]:
    found = [match.rstrip(".,;:!?)") for match in URL.findall(text)]
    remainder = URL.sub(" ", text)
    found += [match.rstrip(".,;:!?)") for match in _BARE_LINK.findall(remainder)]
    return found


def check_links(links: Iterable[tuple[str, str | None]], channel_name: str) -> list[Finding]:
    """``links`` are (URL, visible text or None); ``channel_name`` is "email" or "SMS"."""
    findings: dict[str, Finding] = {}
    for url, text in links:
        if url.startswith(("mailto:", "tel:")):
            continue
        host = _host(url)
        if host is None:
            continue
        if "@" in _authority(url):
            findings.setdefault(
                "link_userinfo" + url,
                Finding(
                    "link_userinfo",
                    Severity.BLOCKING,
                    f"A link hides its destination behind an @ ({url}); it really goes to {host}.",
                    "Link to the site directly.",
                ),
            )
        if host in LINK_SHORTENERS:
            findings.setdefault(
                "link_shortener" + host,
                Finding(
                    "link_shortener",
                    Severity.BLOCKING if channel_name == "SMS" else Severity.WARNING,
                    f"The {channel_name} links through the shortener {host}; carriers and "
                    "spam filters block shortened links because they hide the destination.",
                    "Use the full link to your own site.",
                ),
            )
        if _is_ip(host):
            findings.setdefault(
                "link_ip_address" + host,
                Finding(
                    "link_ip_address",
                    Severity.BLOCKING,
                    f"The {channel_name} links to a bare IP address ({host}), a phishing sign.",
                    "Link to a named website.",
                ),
            )
        if url.lower().startswith("http://"):
            findings.setdefault(
                "link_insecure" + host,
                Finding(
                    "link_insecure",
                    Severity.WARNING,
                    f"The link to {host} uses http://, which browsers mark as not secure.",
                    "Use https://.",
                ),
            )
        named = _named_domain(text or "")
        if named and not _same_site(named, host):
            findings.setdefault(
                "link_text_domain" + url,
                Finding(
                    "link_text_domain",
                    Severity.BLOCKING,
                    f"A link shows “{named}” but goes to {host}; that is what phishing does.",
                    "Make the link text and the address name the same site.",
                ),
            )
    return list(findings.values())


def _host(url: str) -> str | None:
    target = url if "://" in url else "https://" + url
    try:
        host = urlsplit(target).hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


def _authority(url: str) -> str:
    target = url if "://" in url else "https://" + url
    return urlsplit(target).netloc


def _is_ip(host: str) -> bool:
    """Dotted, bracketed IPv6, or a bare number (browsers read 3232235777 as an address)."""
    if host.isdigit() or re.fullmatch(r"0x[0-9a-f]+", host):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _named_domain(text: str) -> str | None:
    match = _DOMAIN.search(text)
    return match.group(1).lower().removeprefix("www.") if match else None


def _same_site(first: str, second: str) -> bool:
    return first == second or first.endswith("." + second) or second.endswith("." + first)
