"""Guest-list CSV import: what a planner reads for every kind of file, and upserts that hold."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from store.database import Database
from store.enums import Channel, RsvpStatus, SuppressionReason
from store.guestlist.import_report import ImportReport
from store.guestlist.importer import import_guest_csv
from store.guestlist.reader import MAX_BYTES, MAX_ROWS, ImportRefused
from store.models import AuditEntry, Guest, GuestGroup, Wedding
from store.repositories.suppressions import SuppressionLedger
from tests.factories import TEST_ACTOR, make_wedding

HEADER = "email,name,phone,dietary_requirements,plus_one\n"
GOOD = (
    HEADER
    + "ann@example.com,Ann Lee,+1 201 555 0100,vegetarian,yes\n"
    + "ben@example.com,Ben Ode,(201) 555-0101,,no\n"
    + ",Cara Diaz,201-555-0102,,\n"
)


async def _import(database: Database, wedding: Wedding, data: bytes | str) -> ImportReport:
    raw = data.encode() if isinstance(data, str) else data
    async with database.transaction() as session:
        return await import_guest_csv(session, TEST_ACTOR, wedding, raw)


async def _guests(database: Database, wedding: Wedding) -> dict[str, Guest]:
    async with database.transaction() as session:
        guests = await session.scalars(select(Guest).where(Guest.wedding_id == wedding.id))
        return {guest.name: guest for guest in guests}


async def _refused(database: Database, data: bytes) -> str:
    _, wedding = await make_wedding(database)
    with pytest.raises(ImportRefused) as refused:
        await _import(database, wedding, data)
    assert await _guests(database, wedding) == {}
    return str(refused.value)


async def test_good_rows_are_imported_with_normalised_addresses(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(database, wedding, GOOD)

    assert report.lines() == [
        "Ann & Ben: 3 added, 0 updated, 0 unchanged.",
        "3 guests with a mobile number have no SMS consent on record, so they will not be texted.",
    ]
    guests = await _guests(database, wedding)
    assert guests["Ann Lee"].email == "ann@example.com"
    assert guests["Ann Lee"].phone == "+12015550100"
    assert guests["Ann Lee"].plus_one is True
    assert guests["Ann Lee"].dietary_requirements == "vegetarian"
    assert guests["Ben Ode"].phone == "+12015550101"
    assert guests["Cara Diaz"].email is None
    assert guests["Cara Diaz"].rsvp_status == RsvpStatus.PENDING


async def test_reimporting_the_same_file_changes_nothing(database: Database) -> None:
    _, wedding = await make_wedding(database)
    await _import(database, wedding, GOOD)
    async with database.transaction() as session:
        audit_rows = await session.scalar(select(func.count()).select_from(AuditEntry))

    report = await _import(database, wedding, GOOD)

    assert report.lines() == [
        "Ann & Ben: 0 added, 0 updated, 3 unchanged.",
        "3 guests with a mobile number have no SMS consent on record, so they will not be texted.",
    ]
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == audit_rows
    assert len(await _guests(database, wedding)) == 3


async def test_bom_semicolons_and_loose_header_names(database: Database) -> None:
    _, wedding = await make_wedding(database, default_country="DE")
    row = (
        "zoe@example.de;Zoë Müller;030 901820;vegan;{plus_one};confirmed;Family, Bridal  Party\r\n"
    )
    data = (
        "\ufeff E-Mail ;Name;Phone Number;Dietary Requirements;Plus One;RSVP;Groups\r\n"
        + row.format(plus_one="yes")
        # "ja" is not an English yes: reported along with the duplicate addresses.
        + row.format(plus_one="ja")
    )
    report = await _import(database, wedding, data)

    guests = await _guests(database, wedding)
    zoe = guests["Zoë Müller"]
    assert (zoe.email, zoe.phone, zoe.plus_one) == ("zoe@example.de", "+4930901820", True)
    assert zoe.rsvp_status == RsvpStatus.CONFIRMED
    async with database.transaction() as session:
        groups = await session.scalars(select(GuestGroup.name).where(GuestGroup.guest_id == zoe.id))
        assert sorted(groups) == ["bridal party", "family"]
    assert [str(problem) for problem in report.problems] == [
        "line 3, plus_one: “ja” is not yes or no",
        "line 3, email: the same email as line 2; this row was skipped",
        "line 3, phone: the same phone as line 2; this row was skipped",
    ]


async def test_duplicate_rows_are_reported_and_the_first_kept(database: Database) -> None:
    _, wedding = await make_wedding(database)
    data = HEADER + (
        "ann@example.com,Ann Lee,,,\n"
        "ANN@example.com,Ann Lee again,,,\n"
        "dan@example.com,Dan Park,+12015550103,,\n"
        "dan.p@example.com,Dan P.,201 555 0103,,\n"
    )
    report = await _import(database, wedding, data)

    assert report.lines() == [
        "Ann & Ben: 2 added, 0 updated, 0 unchanged, 2 rows with problems.",
        "1 guest with a mobile number has no SMS consent on record, so they will not be texted.",
        "line 3, email: the same email as line 2; this row was skipped",
        "line 5, phone: the same phone as line 4; this row was skipped",
    ]
    assert sorted(await _guests(database, wedding)) == ["Ann Lee", "Dan Park"]


async def test_an_invalid_phone_names_its_line_and_field(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(database, wedding, HEADER + "ann@example.com,Ann Lee,12345,,\n")
    assert [str(p) for p in report.problems] == [
        "line 2, phone: “12345” is not a valid phone number (read as a US number)"
    ]
    assert report.added == 0


async def test_an_invalid_email_names_its_line_and_field(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(
        database, wedding, HEADER + "ann.example.com,Ann Lee,,,\n" + GOOD[len(HEADER) :]
    )
    assert [str(p) for p in report.problems] == [
        "line 2, email: “ann.example.com” is not a valid email address: "
        "An email address must have an @-sign."
    ]
    assert report.added == 3


async def test_a_missing_name_is_reported(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(database, wedding, HEADER + "ann@example.com, ,,,\n")
    assert [str(p) for p in report.problems] == ["line 2, name: the name is empty"]


async def test_a_row_without_any_address_is_reported(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(database, wedding, HEADER + ",Ann Lee,,vegan,\n")
    assert [str(p) for p in report.problems] == [
        "line 2, email: a guest needs an email address or a phone number"
    ]


async def test_every_bad_cell_of_a_row_is_reported_at_once(database: Database) -> None:
    _, wedding = await make_wedding(database)
    data = "name,email,phone,plus_one,rsvp_status,party_size,timezone,channel\n" + (
        "Ann,ann@example.com,,maybe,perhaps,0,Mars/Olympus,fax\n"
    )
    report = await _import(database, wedding, data)
    assert [str(p) for p in report.problems] == [
        "line 2, plus_one: “maybe” is not yes or no",
        "line 2, rsvp_status: “perhaps” is not one of confirmed, pending, declined",
        "line 2, party_size: “0” is not a whole number from 1 to 20",
        "line 2, timezone: “Mars/Olympus” is not a time zone name such as Europe/London",
        "line 2, preferred_channel: “fax” is not email or sms",
    ]


async def test_a_quoted_cell_spanning_lines_keeps_later_line_numbers_right(
    database: Database,
) -> None:
    _, wedding = await make_wedding(database)
    data = HEADER + (
        'ann@example.com,Ann Lee,,"no nuts,\nno shellfish",\nben@example.com,Ben,12345,,\n'
    )
    report = await _import(database, wedding, data)
    assert [str(p) for p in report.problems] == [
        "line 4, phone: “12345” is not a valid phone number (read as a US number)"
    ]
    assert (await _guests(database, wedding))["Ann Lee"].dietary_requirements == (
        "no nuts,\nno shellfish"
    )


async def test_an_empty_file_is_refused(database: Database) -> None:
    assert await _refused(database, b"") == (
        "The file is empty: there is no header row and no guests."
    )


async def test_a_file_of_blank_lines_is_refused_as_empty(database: Database) -> None:
    assert await _refused(database, b"\xef\xbb\xbf\r\n  \r\n") == (
        "The file is empty: there is no header row and no guests."
    )


async def test_a_header_only_file_is_refused(database: Database) -> None:
    assert await _refused(database, HEADER.encode()) == (
        "The file has a header row but no guest rows below it."
    )


async def test_a_binary_file_is_refused(database: Database) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"
    assert await _refused(database, png) == (
        "This is not a CSV file: it holds binary data (a zero byte at byte 9). "
        "Export the guest list from your spreadsheet as “CSV UTF-8”."
    )


async def test_a_workbook_is_refused_with_what_to_do(database: Database) -> None:
    assert await _refused(database, b"PK\x03\x04\x14\x00\x06\x00") == (
        "This is a spreadsheet workbook (such as .xlsx), not a CSV file. "
        "Save it as “CSV UTF-8” from your spreadsheet and import that."
    )


async def test_text_that_is_not_utf8_is_refused(database: Database) -> None:
    latin1 = (HEADER + "jose@example.com,José,,,\n").encode("latin-1")
    assert await _refused(database, latin1) == (
        "The file is not UTF-8 text: line 2 has the byte 0xE9, often an accented letter "
        "saved in another encoding. Save the file as “CSV UTF-8” from your spreadsheet "
        "and import that."
    )


async def test_a_header_without_names_is_refused(database: Database) -> None:
    assert await _refused(database, b"email,phone\nann@example.com,\n") == (
        "The header row has no “name” column (found: email, phone). Expected: "
        "email, name, phone, dietary_requirements, plus_one; "
        "optionally rsvp_status, groups, party_size, timezone, preferred_channel, sms_consent."
    )


async def test_a_repeated_column_is_refused(database: Database) -> None:
    assert await _refused(database, b"name,email,Email\nAnn,a@example.com,b@example.com\n") == (
        "The column “email” appears twice in the header (columns 2 and 3). "
        "Remove one and import again."
    )


async def test_too_many_rows_are_refused_before_anything_is_read(database: Database) -> None:
    rows = "".join(f"Guest {n},g{n}@example.com\n" for n in range(MAX_ROWS + 1))
    assert await _refused(database, ("name,email\n" + rows).encode()) == (
        "The file has 50,001 guest rows; the limit is 50,000 per import. "
        "Split it into smaller files."
    )


async def test_a_file_over_ten_megabytes_is_refused(database: Database) -> None:
    data = b"name,email,notes\n" + b"Ann,ann@example.com," + b"x" * MAX_BYTES + b"\n"
    assert await _refused(database, data) == (
        "The file is over the 10 MB limit for one import. Split the guest list into smaller files."
    )


async def test_changed_rows_update_and_empty_cells_keep_what_is_stored(
    database: Database,
) -> None:
    _, wedding = await make_wedding(database)
    await _import(database, wedding, GOOD)
    update = (
        "name,email,phone,rsvp_status,party_size,dietary_requirements\n"
        "Ann Lee,ann@example.com,,confirmed,2,\n"  # empty phone and dietary: kept
        "Cara Díaz,cara@example.com,2015550102,,,\n"  # matched by phone: gains an email
    )
    report = await _import(database, wedding, update)

    assert report.lines() == [
        "Ann & Ben: 0 added, 2 updated, 0 unchanged.",
        "2 guests with a mobile number have no SMS consent on record, so they will not be texted.",
    ]
    guests = await _guests(database, wedding)
    ann = guests["Ann Lee"]
    assert (ann.rsvp_status, ann.party_size) == (RsvpStatus.CONFIRMED, 2)
    assert (ann.phone, ann.dietary_requirements) == ("+12015550100", "vegetarian")
    assert guests["Cara Díaz"].email == "cara@example.com"
    async with database.transaction() as session:
        audit = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "guest.updated", AuditEntry.entity_id == str(ann.id)
            )
        )
    assert audit is not None
    assert audit.before == {"rsvp_status": "pending", "party_size": 1}
    assert audit.after == {"rsvp_status": "confirmed", "party_size": 2}


async def test_personal_data_never_enters_the_audit_log(database: Database) -> None:
    _, wedding = await make_wedding(database)
    await _import(database, wedding, GOOD)
    async with database.transaction() as session:
        created = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "guest.created"))
        ).all()
    assert len(created) == 3
    text = repr([row.after for row in created])
    for secret in ("Ann Lee", "ann@example.com", "+12015550100", "vegetarian"):
        assert secret not in text


async def test_a_row_matching_two_guests_is_reported(database: Database) -> None:
    _, wedding = await make_wedding(database)
    await _import(database, wedding, GOOD)
    report = await _import(
        database, wedding, "name,email,phone\nAnn Lee,ann@example.com,+12015550101\n"
    )
    assert [str(p) for p in report.problems] == [
        "line 2, phone: the email belongs to guest “Ann Lee” but the phone to “Ben Ode”; "
        "this row was skipped"
    ]
    assert report.updated == 0


async def test_opted_out_guests_are_imported_and_counted(database: Database) -> None:
    organisation, wedding = await make_wedding(database)
    async with database.transaction() as session:
        await SuppressionLedger(session).suppress(
            TEST_ACTOR,
            organisation_id=organisation.id,
            channel=Channel.SMS,
            address="+12015550101",
            reason=SuppressionReason.STOP,
            source="test",
        )
    report = await _import(database, wedding, GOOD)
    assert report.lines() == [
        "Ann & Ben: 3 added, 0 updated, 0 unchanged.",
        "1 of these guests opted out earlier and will not be messaged.",
        "3 guests with a mobile number have no SMS consent on record, so they will not be texted.",
    ]


async def test_extra_columns_become_custom_fields(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(
        database, wedding, "name,email,Table Number,#\nAnn,ann@example.com,12,x\n"
    )
    guests = await _guests(database, wedding)
    assert guests["Ann"].custom_fields == {"table_number": "12"}
    assert report.notes == [
        "Column 4 (“#”) was ignored: a column name must start with a letter "
        "and use only letters, digits and spaces."
    ]


async def test_apostrophe_escaped_cells_from_an_export_read_back(database: Database) -> None:
    _, wedding = await make_wedding(database)
    await _import(
        database, wedding, "name,phone,dietary_requirements\nAnn,'+12015550100,'@home food\n"
    )
    ann = (await _guests(database, wedding))["Ann"]
    assert (ann.phone, ann.dietary_requirements) == ("+12015550100", "@home food")


async def test_an_unclosed_quote_refuses_the_file_instead_of_swallowing_it(
    database: Database,
) -> None:
    rows = "".join(f"g{n}@example.com,Guest {n},,,\n" for n in range(300))
    data = HEADER + 'ann@example.com,"Ann O\'Neil ""the planner,,,\n' + rows
    assert await _refused(database, data.encode()) == (
        'A quote (") opened on line 2 is never closed, so the rest of the file cannot be '
        "read. Nothing was imported; fix the quote and import again."
    )


async def test_old_mac_line_endings_are_read(database: Database) -> None:
    _, wedding = await make_wedding(database)
    data = "name;email;groups\rAnn;ann@example.com;family, college, work\rBen;ben@example.com;\r"
    report = await _import(database, wedding, data)
    assert (report.added, report.problems) == (2, [])


async def test_odd_cells_are_reported_not_crashed_on(database: Database) -> None:
    _, wedding = await make_wedding(database)
    data = "name,email,groups,party_size\n" + (
        f"Gail,gail@example.com,{'g' * 150},\n" + "Pete,pete@example.com,,²\n"
    )
    report = await _import(database, wedding, data)
    assert [str(p) for p in report.problems] == [
        "line 2, groups: a group name is longer than 100 characters",
        "line 3, party_size: “²” is not a whole number from 1 to 20",
    ]


async def test_invisible_and_control_characters_do_not_get_in(database: Database) -> None:
    _, wedding = await make_wedding(database)
    data = "name,email\n" + (
        "\u200b,zw@example.com\n"
        "Ann\x1b[31mRed,ann@example.com\n"
        "\u202eevil\u202c Eve,eve@example.com\n"
        "Karan\u200cjit,karan@example.com\n"
    )
    report = await _import(database, wedding, data)
    assert [str(p) for p in report.problems] == ["line 2, name: the name is empty"]
    names = sorted(await _guests(database, wedding))
    # Controls and bidi overrides go; a zero-width non-joiner inside a name stays.
    assert names == ["Ann[31mRed", "Karan\u200cjit", "evil Eve"]


async def test_values_under_a_column_without_a_name_are_noted(database: Database) -> None:
    _, wedding = await make_wedding(database)
    report = await _import(
        database, wedding, "email,name,,\nann@example.com,Ann,,\nben@example.com,Ben,,extra\n"
    )
    assert report.added == 2
    assert report.notes == [
        "Column 4 has no name in the header row, so its values (from line 3) were ignored."
    ]


async def test_a_doubled_byte_order_mark_is_still_a_header(database: Database) -> None:
    _, wedding = await make_wedding(database)
    data = "\ufeff\ufeffname,email\nAnn,ann@example.com\n".encode()
    assert (await _import(database, wedding, data)).added == 1


async def test_none_is_no_dietary_need(database: Database) -> None:
    _, wedding = await make_wedding(database)
    await _import(database, wedding, "name,email,dietary_requirements\nAnn,ann@example.com,vegan\n")
    await _import(database, wedding, "name,email,dietary_requirements\nAnn,ann@example.com,N/A\n")
    assert (await _guests(database, wedding))["Ann"].dietary_requirements == ""


async def test_two_imports_at_once_both_finish(database: Database) -> None:
    _, wedding = await make_wedding(database)
    rows = "".join(f"g{n}@example.com,Guest {n},,,\n" for n in range(1500))
    data = (HEADER + rows).encode()

    async def run() -> ImportReport:
        async with database.transaction() as session:
            return await import_guest_csv(session, TEST_ACTOR, wedding, data)

    first, second = await asyncio.gather(run(), run())
    assert sorted([first.added, second.added]) == [0, 1500]
    assert sorted([first.unchanged, second.unchanged]) == [0, 1500]
    assert len(await _guests(database, wedding)) == 1500
