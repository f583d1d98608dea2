"""Typed errors of the store layer; the edges turn them into HTTP or Slack answers."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error the store raises on purpose."""


class NotFound(StoreError):
    """The row asked for does not exist (or belongs to another organisation)."""

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(
            f"there is no {entity} yet" if key is None else f"{entity} {key!r} was not found"
        )
        self.entity = entity
        self.key = key


class IllegalTransition(StoreError):
    """A campaign was asked to move between two states the state machine does not join."""

    def __init__(self, campaign_id: int, from_state: str, to_state: str) -> None:
        super().__init__(f"campaign {campaign_id} cannot go from {from_state} to {to_state}")
        self.campaign_id = campaign_id
        self.from_state = from_state
        self.to_state = to_state


class ConcurrentChange(StoreError):
    """Someone else changed the row between our read and our guarded write."""


class AmbiguousWedding(StoreError):
    """The organisation has several weddings and none was named."""


class SegmentError(StoreError):
    """An audience filter could not be read; the message says which part and why."""


class NotAllowed(StoreError):
    """The caller's role does not allow the action (store/permissions.py); names who may."""

    def __init__(self, action: str, doing: str, needed: str, role: str) -> None:
        article = "an" if role[:1] in "aeiou" else "a"
        super().__init__(f"To {doing} you need the {needed} role; you are {article} {role}.")
        self.action = action
        self.needed = needed
        self.role = role


class AuditQueryError(StoreError):
    """A question to the audit log names something that cannot be read or found."""


class CampaignDeleted(NotFound):
    """The campaign was deleted: only restoring it brings it back."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__("campaign", campaign_id)
        self.args = (f"campaign {campaign_id} was deleted",)


class NotDeletable(StoreError):
    """The campaign is in a state where deleting it could lose messages on their way."""

    def __init__(self, campaign_id: int, state: str) -> None:
        super().__init__(
            f"campaign {campaign_id} is {state.replace('_', ' ')}: a campaign that may still "
            "send must be cancelled first, then it can be deleted"
        )
        self.campaign_id = campaign_id
        self.state = state


class NotRestorable(StoreError):
    """The campaign is not deleted, or the audit trail holds no record of its deletion."""
