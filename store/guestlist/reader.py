"""Reading a guest-list CSV into guest rows and per-row problems, without touching the database.

Spreadsheets export many dialects: a UTF-8 BOM, ``;`` in European locales,
"Dietary Requirements" for ``dietary_requirements``. All are accepted; what
cannot be read is reported by line and field, and the rest still imports.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from store.addresses import AddressError, normalise_email, normalise_phone
from store.enums import Channel, RsvpStatus
from store.errors import StoreError
from store.guestlist import cells
from store.guestlist.cells import CellError

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_NAME_LENGTH = 200

CORE_COLUMNS = ("email", "name", "phone", "dietary_requirements", "plus_one")
OPTIONAL_COLUMNS = (
    "rsvp_status",
    "groups",
    "party_size",
    "timezone",
    "preferred_channel",
    "sms_consent",
)
KNOWN_COLUMNS = frozenset(CORE_COLUMNS + OPTIONAL_COLUMNS)
# What spreadsheets and other tools commonly call our columns.
ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "full_name": "name",
    "guest_name": "name",
    "phone_number": "phone",
    "mobile": "phone",
    "cell": "phone",
    "dietary": "dietary_requirements",
    "diet": "dietary_requirements",
    "plus1": "plus_one",
    "plusone": "plus_one",
    "rsvp": "rsvp_status",
    "group": "groups",
    "time_zone": "timezone",
    "channel": "preferred_channel",
    "sms_opt_in": "sms_consent",
    "text_consent": "sms_consent",
    "consent_sms": "sms_consent",
}
# What a "consent" column about email means here: nothing to record (see the note).
_EMAIL_CONSENT = frozenset({"email_consent", "email_opt_in", "consent_email"})
_CUSTOM_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

T = TypeVar("T")


class ImportRefused(StoreError):
    """The whole file was refused; nothing was imported. The message says why and what to do."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, {self.field}" if self.field else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class GuestRow:
    """One readable row; ``None`` means the file left the field empty (keep what is stored)."""

    line: int
    name: str
    email: str | None
    phone: str | None
    dietary_requirements: str | None = None
    plus_one: bool | None = None
    rsvp_status: RsvpStatus | None = None
    party_size: int | None = None
    groups: list[str] | None = None
    timezone: str | None = None
    preferred_channel: Channel | None = None
    # The file's word on the guest's agreement to texts (yes / no); None: it says nothing.
    sms_consent: bool | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ParsedGuestList:
    rows: list[GuestRow]
    problems: list[RowProblem]
    notes: list[str]
    # The fields the header named (after aliases): "sms_consent" in it means the file
    # answers for SMS consent itself, so nobody is asked to confirm it.
    columns: frozenset[str] = frozenset()


def parse_guest_csv(data: bytes, default_country: str) -> ParsedGuestList:
    text = _decode(data)
    delimiter = _sniff_delimiter(text)
    # Count first, so an oversized file is refused before any row is validated.
    data_rows = sum(1 for _ in _rows(text, delimiter)) - 1
    if data_rows < 0:
        raise ImportRefused("The file is empty: there is no header row and no guests.")
    if data_rows == 0:
        raise ImportRefused("The file has a header row but no guest rows below it.")
    if data_rows > MAX_ROWS:
        raise ImportRefused(
            f"The file has {data_rows:,} guest rows; the limit is {MAX_ROWS:,} per import. "
            "Split it into smaller files."
        )
    rows = _rows(text, delimiter)
    _, header = next(rows)
    columns, notes = _read_header(header)
    parsed = ParsedGuestList(
        rows=[], problems=[], notes=notes, columns=frozenset(c for c in columns if c)
    )
    seen: dict[tuple[str, str], int] = {}
    unnamed = {position for position, cell in enumerate(header) if not cell.strip("\ufeff ")}
    for line, raw_row in rows:
        for position in sorted(unnamed):
            if position < len(raw_row) and raw_row[position].strip():
                parsed.notes.append(
                    f"Column {position + 1} has no name in the header row, so its values "
                    f"(from line {line}) were ignored."
                )
                unnamed.discard(position)
        _read_row(line, raw_row, columns, default_country, seen, parsed)
    return parsed


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on (quoted cells may span lines)."""
    # strict: a quote that is never closed is an error, not a cell that
    # silently swallows every row after it.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 0
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if any(cell.strip() for cell in row):
                yield start, row
    except csv.Error as error:
        where = line + 1
        if "unexpected end of data" in str(error):
            raise ImportRefused(
                f'A quote (") opened on line {where} is never closed, so the rest of the file '
                "cannot be read. Nothing was imported; fix the quote and import again."
            ) from None
        raise ImportRefused(
            f"Line {where} cannot be read as CSV ({error}). Nothing was imported."
        ) from None


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRefused(
            f"The file is over the {MAX_BYTES // 1_048_576} MB limit for one import. "
            "Split the guest list into smaller files."
        )
    if data.startswith(b"PK\x03\x04"):
        raise ImportRefused(
            "This is a spreadsheet workbook (such as .xlsx), not a CSV file. "
            "Save it as “CSV UTF-8” from your spreadsheet and import that."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused(
            "The file is UTF-16 text. Save it as “CSV UTF-8” from your spreadsheet and import that."
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ImportRefused(
            f"This is not a CSV file: it holds binary data (a zero byte at byte {nul + 1}). "
            "Export the guest list from your spreadsheet as “CSV UTF-8”."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportRefused(
            f"The file is not UTF-8 text: line {line} has the byte 0x{data[error.start]:02X}, "
            "often an accented letter saved in another encoding. "
            "Save the file as “CSV UTF-8” from your spreadsheet and import that."
        ) from None
    if not text.strip():
        raise ImportRefused("The file is empty: there is no header row and no guests.")
    return text


def _sniff_delimiter(text: str) -> str:
    """The separator used in the header row: ``,`` ``;`` or tab, whichever it has most of."""
    lines = text.lstrip().splitlines()  # \r alone ends lines too (old Mac exports)
    header = lines[0] if lines else ""
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def normalise_header(name: str) -> str:
    key = re.sub(r"[\s\-.]+", "_", name.replace("\ufeff", "").strip().lower()).strip("_")
    return ALIASES.get(key, key)


def _read_header(header: list[str]) -> tuple[list[str | None], list[str]]:
    """Each column's field name (None: ignored), and notes about ignored columns."""
    columns: list[str | None] = []
    notes: list[str] = []
    first_seen: dict[str, int] = {}
    for position, raw in enumerate(header, start=1):
        key = normalise_header(cells.unescape_formula(raw))
        if not key:
            columns.append(None)
            continue
        if key in first_seen:
            raise ImportRefused(
                f"The column “{key}” appears twice in the header "
                f"(columns {first_seen[key]} and {position}). Remove one and import again."
            )
        first_seen[key] = position
        if key in _EMAIL_CONSENT:
            notes.append(
                f"Column {position} (“{raw.strip()}”) is kept as an extra field only: emails "
                "need no consent on record, since every email carries a one-click unsubscribe "
                "link. SMS consent is read from an “sms_consent” column (yes or no)."
            )
        if key in KNOWN_COLUMNS or _CUSTOM_FIELD.match(key):
            columns.append(key)
        else:
            columns.append(None)
            notes.append(
                f"Column {position} (“{raw.strip()}”) was ignored: a column name must start "
                "with a letter and use only letters, digits and spaces."
            )
    if "name" not in first_seen:
        found = ", ".join(k for k in first_seen) or "nothing"
        raise ImportRefused(
            f"The header row has no “name” column (found: {found}). Expected: "
            f"{', '.join(CORE_COLUMNS)}; optionally {', '.join(OPTIONAL_COLUMNS)}."
        )
    if "email" not in first_seen and "phone" not in first_seen:
        raise ImportRefused(
            "The header row has neither an “email” nor a “phone” column, "
            "so no guest could be reached."
        )
    return columns, notes


class _RowCells:
    """The cells of one row by field name, collecting a problem for each unreadable one."""

    def __init__(self, line: int, values: dict[str, str]) -> None:
        self.line = line
        self.values = values
        self.problems: list[RowProblem] = []

    def text(self, key: str) -> str:
        return self.values.get(key, "")

    def parse(self, key: str, parse: Callable[[str], T]) -> T | None:
        text = self.text(key)
        if not text:
            return None
        try:
            return parse(text)
        except (CellError, AddressError) as error:
            self.problems.append(RowProblem(self.line, key, str(error)))
            return None


def _read_row(
    line: int,
    raw_row: list[str],
    columns: list[str | None],
    default_country: str,
    seen: dict[tuple[str, str], int],
    parsed: ParsedGuestList,
) -> None:
    row_cells = _RowCells(
        line,
        {
            key: cells.unescape_formula(cells.clean_cell(cell).strip())
            for key, cell in zip(columns, raw_row, strict=False)
            if key is not None
        },
    )
    problems = row_cells.problems
    if any(cell.strip() for cell in raw_row[len(columns) :]):
        problems.append(
            RowProblem(
                line, None, f"the row has {len(raw_row)} cells but the header has {len(columns)}"
            )
        )
    name = " ".join(row_cells.text("name").split())
    if not cells.has_letters(name):
        problems.append(RowProblem(line, "name", "the name is empty"))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(
            RowProblem(line, "name", f"the name is longer than {MAX_NAME_LENGTH} characters")
        )
    if not row_cells.text("email") and not row_cells.text("phone"):
        problems.append(
            RowProblem(line, "email", "a guest needs an email address or a phone number")
        )
    row = GuestRow(
        line=line,
        name=name,
        email=row_cells.parse("email", normalise_email),
        phone=row_cells.parse("phone", lambda text: normalise_phone(text, default_country)),
        dietary_requirements=row_cells.parse("dietary_requirements", cells.read_dietary),
        plus_one=row_cells.parse("plus_one", cells.read_bool),
        rsvp_status=row_cells.parse("rsvp_status", cells.read_rsvp),
        party_size=row_cells.parse("party_size", cells.read_party_size),
        groups=row_cells.parse("groups", cells.read_groups),
        timezone=row_cells.parse("timezone", cells.read_timezone),
        preferred_channel=row_cells.parse("preferred_channel", cells.read_channel),
        sms_consent=row_cells.parse("sms_consent", cells.read_bool),
        custom_fields={
            key: value
            for key, value in row_cells.values.items()
            if key not in KNOWN_COLUMNS and value
        },
    )
    for key, value in row.custom_fields.items():
        if len(value) > cells.MAX_TEXT_CELL:
            problems.append(
                RowProblem(line, key, f"the text is longer than {cells.MAX_TEXT_CELL} characters")
            )
    addresses = [(kind, getattr(row, kind)) for kind in ("email", "phone")]
    for kind, address in addresses:
        if address is not None and (kind, address) in seen:
            problems.append(
                RowProblem(
                    line,
                    kind,
                    f"the same {kind} as line {seen[kind, address]}; this row was skipped",
                )
            )
    if problems:
        parsed.problems.extend(problems)
        return
    for kind, address in addresses:
        if address is not None:
            seen[kind, address] = line
    parsed.rows.append(row)
