"""Audience segments: a small filter language compiled to one parameterised query.

    rsvp=pending                    guests who have not answered
    dietary=vegan,vegetarian        a dietary need mentioning either word
    plus_one=yes group=family       both conditions (spaces mean AND)
    channel=sms                     guests with a phone number
    group="bridal party"            quotes for values with spaces

An empty expression (or ``all``) is everyone. Errors name the part that
could not be read and what would be accepted instead.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import RsvpStatus
from store.errors import SegmentError
from store.models import Guest, GuestGroup

EVERYONE = frozenset({"", "all", "everyone"})


def _rsvp(value: str) -> ColumnElement[bool]:
    return Guest.rsvp_status == RsvpStatus(value)


def _dietary(value: str) -> ColumnElement[bool]:
    column = func.coalesce(Guest.dietary_requirements, "")
    if value == "any":
        return column != ""
    if value == "none":
        return column == ""
    pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return func.lower(column).like(pattern, escape="\\")


def _plus_one(value: str) -> ColumnElement[bool]:
    return Guest.plus_one.is_(value in {"yes", "true"})


def _group(value: str) -> ColumnElement[bool]:
    return exists().where(GuestGroup.guest_id == Guest.id, GuestGroup.name == value)


def _channel(value: str) -> ColumnElement[bool]:
    column = Guest.phone if value == "sms" else Guest.email
    return column.is_not(None)


@dataclass(frozen=True, slots=True)
class _Field:
    condition: Callable[[str], ColumnElement[bool]]
    # None: free text; otherwise the only values accepted.
    values: tuple[str, ...] | None
    example: str


FIELDS: dict[str, _Field] = {
    "rsvp": _Field(_rsvp, tuple(s.value for s in RsvpStatus), "rsvp=pending"),
    "dietary": _Field(_dietary, None, "dietary=vegetarian"),
    "plus_one": _Field(_plus_one, ("yes", "no", "true", "false"), "plus_one=yes"),
    "group": _Field(_group, None, "group=family"),
    "channel": _Field(_channel, ("sms", "email"), "channel=sms"),
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
        if not self.clauses:
            return true()
        return and_(
            *(
                or_(*(FIELDS[clause.field].condition(value) for value in clause.values))
                for clause in self.clauses
            )
        )

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


def segment_query(wedding_id: int, segment: Segment) -> Select[Guest]:
    return select(Guest).where(Guest.wedding_id == wedding_id, segment.condition())


async def count_segment(session: AsyncSession, wedding_id: int, segment: Segment) -> int:
    """How many guests of the wedding the segment selects, in one query."""
    count = await session.scalar(
        select(func.count())
        .select_from(Guest)
        .where(Guest.wedding_id == wedding_id, segment.condition())
    )
    return count or 0
