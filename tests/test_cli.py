"""The guestcomms command line, run as an operator runs it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from bot.cli import main
from tests.data_keys import DATA_KEYS_ENV

GUESTS = (
    "email,name,phone,dietary_requirements,plus_one\n"
    "ann@example.com,Ann Lee,+12015550150,vegetarian,yes\n"
    "bad-address,Bad Row,,,\n"
)


@pytest.fixture
def database_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    for name, value in DATA_KEYS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_migrate_says_where_the_database_is(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == (
        f"Database is up to date (sqlite+aiosqlite:///{database_env / 'cli.db'}).\n"
    )


def test_demo_data_loads_once(database_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data"]) == 0
    assert main(["demo-data"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Loaded the demo organisation “demo” with one wedding (Alex & Sam) and 40 guests.",
        "Demo data is already loaded (organisation “demo”).",
    ]


def test_import_reports_counts_and_each_bad_row(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    (database_env / "guests.csv").write_text(GUESTS)
    capsys.readouterr()

    assert main(["import", "guests.csv", "--wedding", "alex-and-sam"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Imported guests.csv into Alex & Sam: 1 added, 0 updated, 0 unchanged, "
        "1 row with problems.",
        "  1 guest with a mobile number has no SMS consent on record, so they will not be texted.",
        "  If they agreed to texts, import the file again with --sms-consent, "
        "or add an sms_consent column (yes or no).",
        "  line 3, email: “bad-address” is not a valid email address: "
        "An email address must have an @-sign.",
    ]
    assert main(["import", "guests.csv"]) == 0
    assert "0 added, 0 updated, 1 unchanged" in capsys.readouterr().out


def test_import_records_sms_consent_the_operator_confirms(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    (database_env / "guests.csv").write_text(GUESTS)
    capsys.readouterr()
    assert main(["import", "guests.csv", "--sms-consent"]) == 0
    out = capsys.readouterr().out
    assert "  SMS consent recorded for 1 guest." in out
    assert "no SMS consent on record" not in out
    assert main(["guest", "export", "ann@example.com"]) == 0
    [consent] = json.loads(capsys.readouterr().out)["consents"]
    assert (consent["source"], consent["granted"], consent["recorded_by"]) == (
        "import_confirmation",
        True,
        "cli",
    )
    assert consent["text_shown"].startswith(
        "The person importing confirmed that the guests in this file with a mobile number "
        "agreed to receive text messages about the wedding (guestcomms import guests.csv"
    )
    # The same file again records nothing more; a "no" in a column withdraws it.
    assert main(["import", "guests.csv", "--sms-consent"]) == 0
    assert "SMS consent recorded" not in capsys.readouterr().out
    (database_env / "no.csv").write_text("name,phone,sms_consent\nAnn Lee,+12015550150,no\n")
    assert main(["import", "no.csv", "--sms-consent"]) == 0
    out = capsys.readouterr().out
    assert "  SMS consent withdrawn for 1 guest." in out
    assert "  1 guest with a mobile number has no SMS consent on record" in out
    assert "--sms-consent" not in out  # the file answered for itself


def test_data_requests_refuse_what_is_not_an_address(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()
    assert main(["guest", "export", "not-an-address"]) == 2
    assert capsys.readouterr().err == "Cannot export: “not-an-address” is not a phone number\n"
    assert main(["guest", "erase", "ann@", "--yes"]) == 2
    assert capsys.readouterr().err.startswith("Cannot erase: “ann@” is not a valid email address")
    assert main(["guest", "export", "nobody@example.com", "--organisation", "nope"]) == 2
    assert capsys.readouterr().err == "Cannot export: Organisation 'nope' was not found\n"
    assert main(["guest", "export", "nobody@example.com", "--output", "out.json"]) == 0
    assert capsys.readouterr().err.splitlines()[1] == "Nothing at all."
    assert (database_env / "out.json").stat().st_mode & 0o777 == 0o600


def test_import_reads_standard_input(
    database_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["demo-data"])
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(GUESTS.encode())))
    capsys.readouterr()
    assert main(["import", "-"]) == 0
    assert capsys.readouterr().out.startswith("Imported - into Alex & Sam: 1 added")


def test_a_refused_file_exits_2_and_says_why(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    (database_env / "empty.csv").write_text("")
    capsys.readouterr()

    assert main(["import", "empty.csv"]) == 2
    assert capsys.readouterr().err == (
        "Refused empty.csv: The file is empty: there is no header row and no guests.\n"
    )
    assert main(["import", "missing.csv"]) == 2
    assert capsys.readouterr().err == "Cannot read missing.csv: No such file or directory\n"
    (database_env / "guests.csv").write_text(GUESTS)
    assert main(["import", "guests.csv", "--wedding", "nope"]) == 2
    assert capsys.readouterr().err == "Refused guests.csv: Wedding 'nope' was not found.\n"


def test_import_with_no_wedding_to_choose_is_refused(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (database_env / "guests.csv").write_text(GUESTS)
    assert main(["import", "guests.csv"]) == 2
    assert capsys.readouterr().err == (
        "Refused guests.csv: There is no wedding yet. "
        "Load the demo wedding with: guestcomms demo-data\n"
    )


def test_export_writes_csv_and_json_to_standard_output(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()

    assert main(["export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "name,email,phone,rsvp_status,party_size,dietary_requirements,plus_one,groups,"
        "timezone,preferred_channel"
    )
    assert len(lines) == 41

    assert main(["export", "--wedding", "demo/alex-and-sam", "--format", "json"]) == 0
    guests = json.loads(capsys.readouterr().out)
    assert len(guests) == 40
    assert {
        "name",
        "email",
        "phone",
        "rsvp_status",
        "party_size",
        "dietary_requirements",
        "plus_one",
        "groups",
    } <= set(guests[0])


def test_export_can_select_a_segment(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()
    assert main(["export", "--format", "json", "--segment", "rsvp=declined channel=sms"]) == 0
    declined = json.loads(capsys.readouterr().out)
    assert declined
    assert all(g["rsvp_status"] == "declined" and g["phone"] for g in declined)

    assert main(["export", "--segment", "rsvp=maybe"]) == 2
    assert capsys.readouterr().err == (
        "Cannot export: “maybe” is not a value of rsvp: use confirmed, pending or declined.\n"
    )


def test_preview_shows_the_report_and_three_guests_messages(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()
    assert main(["preview", "--template", "rsvp_reminder", "--segment", "rsvp=pending",
                 "--at", "2027-04-20 11:00"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (
        "RSVP reminder — audience: rsvp is pending (17 guests), 16 will receive it."
    )
    # The default PUBLIC_BASE_URL is this laptop: fine for trying, and said so.
    assert "Compliance score 80/100 — ready for approval." in lines
    assert any("Unsubscribe links point at http://localhost:8080" in line for line in lines)
    assert out.count("── ") == 3
    assert "Subject: Reminder: will you join Alex & Sam on Saturday, June 12, 2027?" in lines
    assert "SMS (GSM-7, 2 segments): Evergreen Weddings: Hi " in out
    assert "quiet_hours" not in out


def test_preview_exits_2_when_something_blocks(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    capsys.readouterr()
    assert main(["preview", "--segment", "rsvpp=pending"]) == 2
    assert "blocking The audience cannot be read: There is no field “rsvpp”." in (
        capsys.readouterr().out
    )
    assert main(["preview", "--channels", "fax"]) == 2
    assert capsys.readouterr().err == "Cannot preview: “fax” is not email, sms or email,sms.\n"


def test_operational_failures_are_one_sentence_and_exit_1(
    database_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "nonsense")
    assert main(["migrate"]) == 1
    assert capsys.readouterr().err == (
        "The database at DATABASE_URL (not a database URL) cannot be used: "
        "Could not parse SQLAlchemy URL from given URL string\n"
    )
    monkeypatch.setenv("DATABASE_URL", "postgresql://guest:secret@127.0.0.1:1/none")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("guestcomms migrate failed: ")
    assert "postgresql+asyncpg://guest:***@127.0.0.1:1/none running?" in err
    assert "secret" not in err
    monkeypatch.setenv("PORT", "eighty")
    assert main(["migrate"]) == 1
    assert capsys.readouterr().err == (
        "The configuration is not valid: PORT: Input should be a valid integer, "
        "unable to parse string as an integer\n"
    )


def test_an_absurd_wedding_id_is_not_found(
    database_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo-data"])
    assert main(["export", "--wedding", "9" * 30]) == 2
    assert capsys.readouterr().err.endswith(f"Wedding '{'9' * 30}' was not found.\n")


@pytest.mark.integration
def test_the_cli_works_on_postgresql(
    postgres_url: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)
    for name in DATA_KEYS_ENV:
        monkeypatch.delenv(name, raising=False)
    # Several machines cannot share keys one of them generated: they must be given.
    assert main(["migrate"]) == 1
    assert capsys.readouterr().err.startswith(
        "guestcomms migrate cannot run: DATA_ENCRYPTION_KEYS and DATA_INDEX_KEY are not set: "
        "guests' personal data is encrypted and looked up with these keys."
    )
    assert not (tmp_path / "var").exists()
    for name, value in DATA_KEYS_ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate"]) == 0
    assert main(["demo-data"]) in (0,)
    capsys.readouterr()
    assert main(["export", "--wedding", "demo/alex-and-sam", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 40
