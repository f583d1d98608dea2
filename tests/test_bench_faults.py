"""The fault benchmarks' own parts: children that cannot outlive them, and the counting
that decides their verdicts — fed known answers here, since a counter that finds no
duplicate because it cannot see one would prove nothing.

The benchmarks themselves run on demand (DESIGN.md); the claims race runs here at
a tiny size on SQLite, since it needs no other service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from bench.chaos import tally
from bench.children import PROJECT, Children
from bench.live_campaign import email, phone
from bench.stop_during_send import Span, Stop, judge
from store.enums import Channel, DeliveryStatus
from store.models import Delivery
from tests.fakes.twilio import FakeMessage

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"  # dead, waiting for whoever adopted it to reap it


def test_leaving_the_block_kills_what_the_children_forked(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    with Children(tmp_path / "logs") as children:
        shell = children.start(
            "shell", ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], os.environ
        )
        for _ in range(200):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        grandchild = int(pidfile.read_text())
    assert shell.returncode is not None
    for _ in range(100):
        if _gone(grandchild):
            break
        time.sleep(0.05)
    assert _gone(grandchild)


def _text(to: str, seconds: float, sid: str = "") -> FakeMessage:
    return FakeMessage(
        sid or f"SM{to}{seconds}", to, "+12015550000", "Hi", None, T0 + timedelta(seconds=seconds)
    )


def test_each_text_after_a_stop_is_judged_by_when_its_opt_out_check_ran() -> None:
    answered = T0.timestamp() + 10
    numbers = [phone(n) for n in range(7)]
    stops = [
        Stop(number, posted=answered - 0.1, answered=answered, status=200) for number in numbers
    ]
    # Each STOP's COMMIT ran from 30 to 10 ms before its answer; number 6's was not seen,
    # so its ledger row's writing (50 ms before) and its answer bound it.
    commits = {number: [Span(answered - 0.03, answered - 0.01)] for number in numbers[:6]}
    written = dict.fromkeys(numbers, answered - 0.05)
    texts = [_text(numbers[0], 9.9)] + [_text(number, 10.2) for number in numbers[1:]]
    checks = {
        numbers[0]: [Span(answered - 1, answered - 0.9)],  # its text came before the answer
        numbers[1]: [Span(answered - 3, answered - 2.9), Span(answered - 1, answered - 0.9)],
        numbers[2]: [Span(answered - 0.02, answered - 0.005)],  # overlapped the COMMIT
        numbers[3]: [Span(answered - 1, answered - 0.9), Span(answered - 0.005, answered)],
        # numbers[4]: no check seen at all
        numbers[5]: [Span(answered + 0.1, answered + 0.15), Span(answered + 0.3, answered + 0.4)],
        numbers[6]: [Span(answered - 0.04, answered - 0.02)],  # within the fallback bounds
    }
    findings = judge(texts, stops, commits, written, checks)
    assert [note.split(":")[0] for note in findings.late_in_flight] == [numbers[1]]
    assert [note.split(":")[0] for note in findings.late_overlapping] == [numbers[2], numbers[6]]
    # Checked after the COMMIT returned (even before the answer left), or never checked;
    # a check after the text reached Twilio (number 5's second) is not the one it passed.
    assert [note.split(":")[0] for note in findings.late_after_final] == numbers[3:6]


def _email(n: int, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = f"Guest {n} <{email(n)}>"
    message["Message-ID"] = message_id
    return message


def _row(row_id: int, channel: Channel, address: str, status: DeliveryStatus, sid: str) -> Delivery:
    return Delivery(
        id=row_id,
        campaign_id=1,
        channel=channel,
        address=address,
        status=status,
        provider_message_id=sid if status == DeliveryStatus.SENT else None,
    )


def test_the_chaos_count_sees_duplicates_losses_and_records_that_disagree() -> None:
    texts = [_text(phone(0), 1, "SM-a"), _text(phone(0), 2, "SM-b"), _text(phone(2), 1, "SM-c")]
    mail = [_email(0, "<a>"), _email(0, "<a>"), _email(1, "<b>"), _email(1, "<c>")]
    rows = [
        _row(1, Channel.SMS, phone(0), DeliveryStatus.SENT, "SM-a"),
        _row(2, Channel.SMS, phone(1), DeliveryStatus.SENT, "SM-lost"),  # Twilio has nothing
        _row(3, Channel.SMS, phone(2), DeliveryStatus.FAILED, ""),  # yet Twilio took it
        _row(4, Channel.EMAIL, email(0), DeliveryStatus.SENT, "<a>"),
        _row(5, Channel.EMAIL, email(1), DeliveryStatus.SENT, "<c>"),
        _row(6, Channel.EMAIL, email(2), DeliveryStatus.PENDING, ""),
    ]
    found = tally(3, texts, mail, rows)
    assert (found.duplicate_texts, found.missing_texts) == (1, 1)
    # guest 0's two copies share a Message-ID (one message in the mailbox); guest 1's do not.
    assert (found.duplicate_emails, found.same_id_copies, found.missing_emails) == (1, 1, 1)
    assert [line.split(" (")[0] for line in found.disagreeing] == ["delivery 2", "delivery 3"]
    assert found.statuses == {"sent": 4, "failed": 1, "pending": 1}


def test_racing_claimers_on_sqlite_claim_each_row_once(tmp_path: Path) -> None:
    figures = tmp_path / "figures.jsonl"
    command = [sys.executable, "-m", "bench.claims", "--backend", "sqlite"]
    command += ["--deliveries", "600", "--processes", "3"]
    finished = subprocess.run(
        command,
        cwd=PROJECT,
        env={**os.environ, "BENCH_FIGURES": str(figures)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    values = {f["name"]: f["value"] for f in map(json.loads, figures.read_text().splitlines())}
    assert values["SQLite: ids claimed twice"] == 0
    assert values["SQLite: ids never claimed"] == 0
