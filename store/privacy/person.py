"""One person, as a data request names them: an email address or a phone number, and
the guest rows (in every wedding of the organisation) that are theirs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from store.addresses import normalise_email, normalise_phone
from store.enums import Channel
from store.models import Guest, Organisation, Wedding
from store.repositories.guests import guests_with_addresses


@dataclass(frozen=True, slots=True)
class Person:
    organisation: Organisation
    asked_for: tuple[Channel, str]
    # The address asked for and those of the person's guest rows: a guest found by
    # their email also texted from their phone.
    addresses: frozenset[tuple[Channel, str]]
    guests: tuple[tuple[Guest, Wedding], ...]

    @property
    def guest_ids(self) -> list[int]:
        return [guest.id for guest, _ in self.guests]

    def on(self, channel: Channel) -> list[str]:
        return sorted(address for each, address in self.addresses if each == channel)

    def described(self) -> str:
        """The guest rows in words, for the person who must confirm an erasure."""
        if not self.guests:
            return "no guest in any wedding"
        return "; ".join(
            f"{guest.name} (guest of {wedding.couple_names}, {wedding.wedding_date.isoformat()})"
            for guest, wedding in self.guests
        )


def read_address(text: str, default_country: str) -> tuple[Channel, str]:
    """An email address (it has an @) or a phone number, normalised; raises AddressError."""
    if "@" in text:
        return Channel.EMAIL, normalise_email(text)
    return Channel.SMS, normalise_phone(text, default_country)


async def find_person(
    session: AsyncSession, organisation: Organisation, asked_for: tuple[Channel, str]
) -> Person:
    """The guests with the address asked for; then, by their other addresses, the
    guests of the same name (Ann's phone-only row in another wedding).

    Only the same name: a household sharing a phone number must not pull in each
    other's rows. Each member's own request (by their own address) names them.
    """
    guests = await _guests_with(session, organisation.id, {asked_for})
    addresses = {asked_for}
    for guest, _ in guests:
        addresses.update(_addresses_of(guest))
    names = {_name_key(guest.name) for guest, _ in guests}
    known = {guest.id for guest, _ in guests}
    for guest, wedding in await _guests_with(session, organisation.id, addresses - {asked_for}):
        if guest.id not in known and _name_key(guest.name) in names:
            guests.append((guest, wedding))
            known.add(guest.id)
            addresses.update(_addresses_of(guest))
    guests.sort(key=lambda pair: pair[0].id)
    return Person(organisation, asked_for, frozenset(addresses), tuple(guests))


def _addresses_of(guest: Guest) -> set[tuple[Channel, str]]:
    found = set()
    if guest.email:
        found.add((Channel.EMAIL, guest.email))
    if guest.phone:
        found.add((Channel.SMS, guest.phone))
    return found


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


async def _guests_with(
    session: AsyncSession, organisation_id: int, addresses: set[tuple[Channel, str]]
) -> list[tuple[Guest, Wedding]]:
    return await guests_with_addresses(
        session,
        organisation_id,
        emails=[address for channel, address in addresses if channel == Channel.EMAIL],
        phones=[address for channel, address in addresses if channel == Channel.SMS],
    )
