"""Audience segments: a small filter language compiled to one parameterised query.

    rsvp=pending                    guests who have not answered
    dietary=vegan,vegetarian        a dietary need mentioning either word
    plus_one=yes group=family       both conditions (spaces mean AND)
    channel=sms                     guests with a phone number
    group="bridal party"            quotes for values with spaces

An empty expression (or ``all``) is everyone. Errors name the part that
could not be read and what would be accepted instead.

Filters on plain columns run in the database; a filter on an encrypted field
(dietary needs) cannot, since the database holds only ciphertext, and is
applied in Python to the decrypted guests the rest of the query selected.
"""

from __future__ import annotations

import difflib
import shlex
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import RsvpStatus
from store.errors import SegmentError
from store.models import Guest, GuestGroup

EVERYONE = frozenset({"", "all", "everyone"})


def _rsvp(value: str) -> ColumnElement[bool]:
    return Guest.rsvp_status == RsvpStatus(value)


def _dietary(guest: Guest, value: str) -> bool:
    needs = guest.dietary_requirements or ""
    if value == "any":
        return needs != ""
    if value == "none":
        return needs == ""
    return value in needs.lower()  # ``value`` is lower-cased when the segment is read


def _plus_one(value: str) -> ColumnElement[bool]:
    return Guest.plus_one.is_(value in {"yes", "true"})


def _group(value: str) -> ColumnElement[bool]:
    return exists().where(GuestGroup.guest_id == Guest.id, GuestGroup.name == value)


def _channel(value: str) -> ColumnElement[bool]:
    column = Guest.phone if value == "sms" else Guest.email
    return column.is_not(None)


@dataclass(frozen=True, slots=True)
class _Field:
    # None: free text; otherwise the only values accepted.
    values: tuple[str, ...] | None
    example: str
    # Exactly one of the two: a condition the database evaluates, or a test
    # of a decrypted guest (for encrypted fields).
    condition: Callable[[str], ColumnElement[bool]] | None = None
    test: Callable[[Guest, str], bool] | None = None


FIELDS: dict[str, _Field] = {
    "rsvp": _Field(tuple(s.value for s in RsvpStatus), "rsvp=pending", condition=_rsvp),
    "dietary": _Field(None, "dietary=vegetarian", test=_dietary),
    "plus_one": _Field(("yes", "no", "true", "false"), "plus_one=yes", condition=_plus_one),
    "group": _Field(None, "group=family", condition=_group),
    "channel": _Field(("sms", "email"), "channel=sms", condition=_channel),
}


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    expression: str
    clauses: tuple[Clause, ...]

    def condition(self) -> ColumnElement[bool]:
        """What the database can decide: every clause on a plain column."""
        conditions = []
        for clause in self.clauses:
            condition = FIELDS[clause.field].condition
            if condition is not None:
                conditions.append(or_(*(condition(value) for value in clause.values)))
        return and_(*conditions) if conditions else true()

    @property
    def tests_in_python(self) -> bool:
        """Whether some clause is on an encrypted field, decided after decryption."""
        return any(FIELDS[clause.field].test is not None for clause in self.clauses)

    def admits(self, guest: Guest) -> bool:
        """The clauses on encrypted fields, for a guest the condition selected."""
        for clause in self.clauses:
            test = FIELDS[clause.field].test
            if test is not None and not any(test(guest, value) for value in clause.values):
                return False
        return True

    def describe(self) -> str:
        if not self.clauses:
            return "all guests"
        return " and ".join(
            f"{clause.field} is {' or '.join(clause.values)}" for clause in self.clauses
        )


def parse_segment(expression: str) -> Segment:
    text = expression.strip()
    if text.lower() in EVERYONE:
        return Segment(text, ())
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise SegmentError(f"A quote is not closed in “{text}”.") from None
    return Segment(text, tuple(_clause(token) for token in tokens))


def _clause(token: str) -> Clause:
    name, equals, raw_values = token.partition("=")
    name = name.strip().lower().replace("-", "_")
    if not equals:
        raise SegmentError(
            f"“{token}” is not a filter: write field=value, for example rsvp=pending."
        )
    field = FIELDS.get(name)
    if field is None:
        close = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f" Did you mean “{close[0]}”?" if close else ""
        raise SegmentError(f"There is no field “{name}”.{hint} Fields: {', '.join(FIELDS)}.")
    values = tuple(
        " ".join(value.split()).lower() for value in raw_values.split(",") if value.strip()
    )
    if not values:
        raise SegmentError(f"“{name}=” needs a value, for example {field.example}.")
    for value in values:
        if field.values is not None and value not in field.values:
            raise SegmentError(f"“{value}” is not a value of {name}: use {_either(field.values)}.")
    return Clause(name, values)


def _either(values: tuple[str, ...]) -> str:
    return ", ".join(values[:-1]) + " or " + values[-1]


async def segment_guests(session: AsyncSession, wedding_id: int, segment: Segment) -> list[Guest]:
    """The wedding's guests the segment selects, in the order they were added."""
    guests = await session.scalars(
        select(Guest).where(Guest.wedding_id == wedding_id, segment.condition()).order_by(Guest.id)
    )
    return [guest for guest in guests if segment.admits(guest)]


async def count_segment(session: AsyncSession, wedding_id: int, segment: Segment) -> int:
    """How many guests of the wedding the segment selects: one count query, unless a
    clause on an encrypted field has to see the guests."""
    if segment.tests_in_python:
        return len(await segment_guests(session, wedding_id, segment))
    count = await session.scalar(
        select(func.count())
        .select_from(Guest)
        .where(Guest.wedding_id == wedding_id, segment.condition())
    )
    return count or 0


def by_name(guests: Iterable[Guest]) -> list[Guest]:
    """Guests sorted by name (then as added): names are encrypted, so the database
    cannot sort them. Case and accents matter only between otherwise equal names,
    as in a guest list sorted by hand ("álvarez" beside "Alvarez", not after "Zoe")."""
    return sorted(guests, key=lambda guest: (_sort_key(guest.name), guest.name, guest.id))


def _sort_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
