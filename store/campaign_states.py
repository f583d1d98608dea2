"""The campaign state machine of DESIGN.md, as data.

draft → pending_approval → approved → scheduled | sending → completed,
with cancel from any live state, pause/resume while sending, an edit that
voids approval (back to draft), and retry of failed deliveries after the end.
"""

from __future__ import annotations

from store.enums import CampaignState as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.CANCELLED}),
    # Reject or edit returns to draft.
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.DRAFT, S.CANCELLED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.SENDING, S.DRAFT, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SENDING, S.DRAFT, S.CANCELLED}),
    S.SENDING: frozenset({S.PAUSED, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.PAUSED: frozenset({S.SENDING, S.CANCELLED}),
    # "Retry failed" sends the failed deliveries of a finished campaign again.
    S.COMPLETED: frozenset({S.SENDING}),
    S.FAILED: frozenset({S.SENDING}),
    S.CANCELLED: frozenset(),
}

# States in which content may no longer change without voiding approval.
APPROVED_STATES = frozenset({S.APPROVED, S.SCHEDULED})
FINAL_STATES = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
# A campaign may be deleted (softly) only when nothing of it can still go out:
# a draft, or a finished one. Waiting for approval, approved, scheduled,
# sending or paused, it must be cancelled first.
DELETABLE_STATES = frozenset({S.DRAFT}) | FINAL_STATES


def can_transition(from_state: S, to_state: S) -> bool:
    return to_state in TRANSITIONS[from_state]
