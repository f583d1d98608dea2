"""``GET|POST /u/{token}``: the unsubscribe page of every email, and its one-click POST.

GET only shows: link scanners and mail previews fetch it, so it changes
nothing. POST unsubscribes at once — RFC 8058's ``List-Unsubscribe=One-Click``
from a mail app (the token's channel) or the page's own form (email, SMS or
both) — and answers only after the commit, with a form to undo it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web

from dispatch.compose.unsubscribe_tokens import UnsubscribeClaim
from dispatch.errors import ExpiredUnsubscribeToken, InvalidUnsubscribeToken
from handlers import unsubscribing
from handlers.address_masking import mask_email, mask_phone
from handlers.guest_pages import STYLESHEET_PATH, render_page, stylesheet
from handlers.keys import SERVICES, SETTINGS, UNSUBSCRIBE_TOKENS
from handlers.metrics import METRICS
from handlers.unsubscribing import Outcome, Recipient
from store.enums import Channel

UNSUBSCRIBE = "unsubscribe"
RESUBSCRIBE = "resubscribe"
_CHOICES: dict[str, tuple[Channel, ...]] = {
    "email": (Channel.EMAIL,),
    "sms": (Channel.SMS,),
    "both": (Channel.EMAIL, Channel.SMS),
}


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/u/{token}", show)
    router.add_post("/u/{token}", submit)
    router.add_get(STYLESHEET_PATH, stylesheet)


async def show(request: web.Request) -> web.Response:
    claim = await _claim(request)
    if isinstance(claim, web.Response):
        return claim
    async with request.app[SERVICES].database.reading() as session:
        found = await unsubscribing.recipient(session, claim)
        if found is None:
            return _unknown_guest(await unsubscribing.sender(session, claim.organisation_id))
        already = await unsubscribing.suppressed_channels(session, claim, found)
    return render_page(
        "unsubscribe.html",
        sender=found.sender,
        couple_names=found.couple_names,
        options=_options(claim, found),
        already=_described(sorted(already), found),
    )


async def submit(request: web.Request) -> web.Response:
    claim = await _claim(request)
    if isinstance(claim, web.Response):
        return claim
    try:
        form = await request.post()
    except ValueError:  # a malformed body, or text that is not what its charset says
        return _bad_request(request)
    wish = _wish(form, claim)
    if wish is None:
        return _bad_request(request)
    action, channels = wish
    database = request.app[SERVICES].database
    metrics = request.app[METRICS]
    if action == RESUBSCRIBE:
        outcome = await unsubscribing.resubscribe(database, claim, channels)
    else:
        outcome = await unsubscribing.unsubscribe(database, claim, channels)
    # Committed by now: what the guest asked holds before this answer leaves.
    if outcome is None:
        async with database.reading() as session:
            return _unknown_guest(await unsubscribing.sender(session, claim.organisation_id))
    for channel in outcome.changed:
        if action == RESUBSCRIBE:
            metrics.opt_ins.labels(channel.value).inc()
        else:
            metrics.opt_outs.labels(channel.value, "unsubscribe").inc()
    if action == RESUBSCRIBE:
        return _resubscribed_page(request, outcome)
    return _unsubscribed_page(outcome)


def _options(claim: UnsubscribeClaim, found: Recipient) -> list[dict[str, object]]:
    """The page's choices: each channel the guest has an address on, and both."""
    channels = [channel for channel in Channel if channel in found.addresses]
    chosen = claim.channel if claim.channel in channels else channels[0] if channels else None
    options: list[dict[str, object]] = [
        {
            "value": channel.value,
            "what": _what(channel, found),
            "label": _capitalised(_what(channel, found)),
            "checked": channel == chosen,
        }
        for channel in channels
    ]
    if len(channels) > 1:
        both = "both emails and text messages"
        options.append(
            {"value": "both", "what": both, "label": _capitalised(both), "checked": False}
        )
    return options


def _wish(
    form: Mapping[str, object], claim: UnsubscribeClaim
) -> tuple[str, tuple[Channel, ...]] | None:
    """(action, channels) the POST asks for; None when it cannot be read."""
    if form.get("List-Unsubscribe") == "One-Click":
        return UNSUBSCRIBE, (claim.channel,)
    # A POST to the link without the page's fields is still a request to
    # unsubscribe: err on the guest's side, as for a mail app's one click.
    action = form.get("action", UNSUBSCRIBE)
    choice = form.get("channel", claim.channel.value)
    if action not in (UNSUBSCRIBE, RESUBSCRIBE) or not isinstance(choice, str):
        return None
    channels = _CHOICES.get(choice)
    return None if channels is None else (str(action), channels)


async def _claim(request: web.Request) -> UnsubscribeClaim | web.Response:
    """The token's claim, or the page that explains why there is none."""
    token = request.match_info["token"]
    try:
        return request.app[UNSUBSCRIBE_TOKENS].verify(token)
    except ExpiredUnsubscribeToken as expired:
        return await _expired(request, expired.organisation_id)
    except InvalidUnsubscribeToken:
        return render_page("invalid_link.html", status=400, sender=None)


async def _expired(request: web.Request, organisation_id: int | None) -> web.Response:
    settings = request.app[SETTINGS].dispatch
    sender = None
    if organisation_id is not None:
        async with request.app[SERVICES].database.reading() as session:
            sender = await unsubscribing.sender(session, organisation_id)
    return render_page(
        "expired_link.html",
        status=400,
        sender=sender,
        max_age_days=settings.unsubscribe_token_max_age_days,
    )


def _unknown_guest(sender: unsubscribing.Sender | None) -> web.Response:
    return render_page("unknown_guest.html", status=404, sender=sender)


def _bad_request(request: web.Request) -> web.Response:
    return render_page("bad_request.html", status=400, page_path=request.path)


def _unsubscribed_page(outcome: Outcome) -> web.Response:
    found = outcome.recipient
    return render_page(
        "unsubscribed.html",
        sender=found.sender,
        couple_names=found.couple_names,
        stopped=[_capitalised(what) for what in _described(outcome.asked, found)],
        choice=_choice(outcome.asked),
    )


def _resubscribed_page(request: web.Request, outcome: Outcome) -> web.Response:
    found = outcome.recipient
    return render_page(
        "resubscribed.html",
        sender=found.sender,
        couple_names=found.couple_names,
        restored=[_capitalised(what) for what in _described(outcome.changed, found)],
        blocked=[_capitalised(what) for what in _described(outcome.still_blocked, found)],
        page_path=request.path,
    )


def _what(channel: Channel, found: Recipient) -> str:
    address = found.addresses[channel]
    if channel == Channel.EMAIL:
        return f"emails to {mask_email(address)}"
    return f"text messages to {mask_phone(address)}"


def _described(channels: Iterable[Channel], found: Recipient) -> list[str]:
    return [_what(channel, found) for channel in channels]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _choice(channels: tuple[Channel, ...]) -> str:
    return "both" if len(channels) > 1 else (channels[0].value if channels else "email")
