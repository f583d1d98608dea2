"""The inbound benchmark sends what Twilio would: signed STOPs from numbers not seen
before and RSVPs from known guests; and, at a tiny size, it runs end to end.

The figures themselves come from ``make bench`` (DESIGN.md: benchmarks run on
demand); here the benchmark only has to keep working, so nothing is timed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from bench.twilio_texts import (
    AUTH_TOKEN,
    SIGNATURE,
    rsvp_guest_csv,
    rsvp_guest_phone,
    signed_texts,
)
from handlers.replies import read_reply
from store.addresses import normalise_phone
from store.enums import InboundClass
from tests.bench_helpers import Figures, run_bench

URL = "http://127.0.0.1:8080/twilio/sms"
GUESTS = ["+12015550101", "+12015550103"]


def test_each_text_is_signed_for_the_server_url() -> None:
    validator = RequestValidator(AUTH_TOKEN)
    for text in signed_texts(URL, 60, GUESTS, rsvp_guests=10, rsvp_share=0.5):
        form = dict(parse_qsl(text.body.decode()))
        assert validator.validate(URL, form, text.headers[SIGNATURE])
        assert form["From"] == text.sender


def test_the_mix_is_stops_and_rsvps_in_the_share_asked_for() -> None:
    texts = signed_texts(URL, 1_000, GUESTS, rsvp_guests=50, rsvp_share=0.3)
    rsvps = [t for t in texts if t.rsvp is not None]
    assert len(rsvps) == 300
    for text in texts:
        body = dict(parse_qsl(text.body.decode()))["Body"]
        reading = read_reply(body)
        if text.rsvp is None:
            assert reading.kind == InboundClass.OPT_OUT
        else:  # the status the benchmark will look for is what the reader makes of it
            assert reading.kind == InboundClass.RSVP
            assert reading.rsvp is not None
            assert reading.rsvp.value == text.rsvp


def test_stop_senders_are_distinct_valid_numbers_and_apart_from_the_rsvp_guests() -> None:
    texts = signed_texts(URL, 25_000, GUESTS, rsvp_guests=5_000, rsvp_share=0.5)
    stops = [t.sender for t in texts if t.rsvp is None]
    rsvps = {t.sender for t in texts if t.rsvp is not None}
    assert len(set(stops)) == len(stops)
    assert set(GUESTS) <= set(stops)
    assert not rsvps & set(stops)
    # Stored as sent: the server's normal form of each is the number itself.
    assert all(normalise_phone(sender, "US") == sender for sender in stops[::499])
    assert all(normalise_phone(sender, "US") == sender for sender in sorted(rsvps)[::97])


def test_a_guest_always_gives_the_same_answer() -> None:
    """So the guest's final RSVP is known even when two of their texts overlap."""
    answers: dict[str, set[str | None]] = {}
    for text in signed_texts(URL, 400, [], rsvp_guests=30, rsvp_share=1.0):
        answers.setdefault(text.sender, set()).add(text.rsvp)
    assert len(answers) == 30
    assert all(len(given) == 1 for given in answers.values())


def test_the_imported_guests_are_the_rsvp_senders() -> None:
    rows = list(csv.DictReader(io.StringIO(rsvp_guest_csv(3))))
    assert [row["phone"] for row in rows] == [rsvp_guest_phone(n) for n in range(3)]
    assert {row["name"] for row in rows} == {"Bench Guest 0", "Bench Guest 1", "Bench Guest 2"}


TINY = ["--seconds", "0.5", "--connections", "2", "--rsvp-guests", "20"]


def _stored_as_sent(figures: Figures, backend: str) -> None:
    stored = figures.named(f"2. inbound rows stored = requests sent, {backend}")
    assert stored.passed, stored
    assert stored.value > 0
    assert figures.named(f"2. inbound webhooks (50% STOP, 50% RSVP), requests/s, {backend}")


def test_the_benchmark_runs_on_sqlite(tmp_path: Path) -> None:
    figures = run_bench("inbound", [*TINY, "--backends", "sqlite"], tmp_path)
    _stored_as_sent(figures, "SQLite")


@pytest.mark.integration
def test_the_benchmark_runs_on_postgresql_and_redis(tmp_path: Path, redis_url: str) -> None:
    figures = run_bench("inbound", [*TINY, "--backends", "postgresql"], tmp_path, redis_url)
    _stored_as_sent(figures, "PostgreSQL + Redis")
