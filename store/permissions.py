"""Who may do what: one table of role × action, read by every door into the product.

Slack commands, Slack buttons and forms, and the operator API each declare the
``Action`` they perform and ask ``require`` before doing it; nothing else
decides. The rules kept here:

- owners and admins may do everything;
- approving is kept apart from planning, so that four eyes stay four: a
  planner prepares, an approver approves (and the approver of a campaign must
  differ from its author, which dispatch/approval.py checks per campaign);
- viewers read, and change nothing;
- what touches one person's data as a whole (export or erase a person), the
  members and their roles, the organisation's settings, the alert rules and
  the audit log are for owners and admins only.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from store.enums import Role
from store.errors import NotAllowed


class Action(StrEnum):
    READ = "read"
    VIEW_COMPLIANCE = "view_compliance"
    VIEW_STATS = "view_stats"
    PLAN_CAMPAIGN = "plan_campaign"
    APPROVE_CAMPAIGN = "approve_campaign"
    RESTORE_CAMPAIGN = "restore_campaign"
    MANAGE_WEDDINGS = "manage_weddings"
    MANAGE_GUESTS = "manage_guests"
    EXPORT_GUESTS = "export_guests"
    REVIEW_OPT_OUTS = "review_opt_outs"
    EXPORT_PERSON = "export_person"
    ERASE_PERSON = "erase_person"
    MANAGE_ROLES = "manage_roles"
    MANAGE_ORGANISATION = "manage_organisation"
    MANAGE_ALERTS = "manage_alerts"
    READ_AUDIT = "read_audit"
    API_STATUS = "api_status"
    API_ADMIN = "api_admin"


EVERYONE = frozenset(Role)
_ADMINS = frozenset({Role.OWNER, Role.ADMIN})
_PLANNERS = _ADMINS | {Role.PLANNER}
_APPROVERS = _ADMINS | {Role.APPROVER}

ALLOWED: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        Action.READ: EVERYONE,
        Action.VIEW_COMPLIANCE: EVERYONE,
        Action.VIEW_STATS: EVERYONE,
        Action.PLAN_CAMPAIGN: _PLANNERS,
        Action.APPROVE_CAMPAIGN: _APPROVERS,
        Action.RESTORE_CAMPAIGN: _ADMINS,
        Action.MANAGE_WEDDINGS: _PLANNERS,
        Action.MANAGE_GUESTS: _PLANNERS,
        Action.EXPORT_GUESTS: _PLANNERS,
        Action.REVIEW_OPT_OUTS: _PLANNERS,
        Action.EXPORT_PERSON: _ADMINS,
        Action.ERASE_PERSON: _ADMINS,
        Action.MANAGE_ROLES: _ADMINS,
        Action.MANAGE_ORGANISATION: _ADMINS,
        Action.MANAGE_ALERTS: _ADMINS,
        Action.READ_AUDIT: _ADMINS,
        Action.API_STATUS: EVERYONE,
        Action.API_ADMIN: _ADMINS,
    }
)

# Each completes "To … you need the owner or admin role".
DOING: Mapping[Action, str] = MappingProxyType(
    {
        Action.READ: "see weddings, guests, campaigns and members",
        Action.VIEW_COMPLIANCE: "see the templates and the opt-out list",
        Action.VIEW_STATS: "see the figures",
        Action.PLAN_CAMPAIGN: "prepare, test, schedule, pause, cancel or delete campaigns",
        Action.APPROVE_CAMPAIGN: "approve or reject a campaign",
        Action.RESTORE_CAMPAIGN: "restore a deleted campaign",
        Action.MANAGE_WEDDINGS: "change a wedding's details",
        Action.MANAGE_GUESTS: "add or import guests",
        Action.EXPORT_GUESTS: "export the guest list",
        Action.REVIEW_OPT_OUTS: "review an opt-out",
        Action.EXPORT_PERSON: "export a person's data",
        Action.ERASE_PERSON: "erase a person's data",
        Action.MANAGE_ROLES: "add, remove or change members' roles",
        Action.MANAGE_ORGANISATION: "change the organisation's settings",
        Action.MANAGE_ALERTS: "manage alerts",
        Action.READ_AUDIT: "read the audit log",
        Action.API_STATUS: "read the queue and campaigns' status",
        Action.API_ADMIN: "read errors, the dashboard and suppressions",
    }
)


def _check_table() -> None:
    # A table that forgot an action, or left owners or admins out of one, is
    # a programming error: refuse to start rather than refuse people later.
    for action in Action:
        roles = ALLOWED.get(action)
        if roles is None or action not in DOING:
            raise RuntimeError(f"the permission table has no entry for {action}")
        if not roles >= _ADMINS:
            raise RuntimeError(f"owners and admins must be allowed to {DOING[action]}")
    if ALLOWED[Action.PLAN_CAMPAIGN] & ALLOWED[Action.APPROVE_CAMPAIGN] != _ADMINS:
        raise RuntimeError("only owners and admins may both plan and approve campaigns")


_check_table()


def can(role: Role, action: Action) -> bool:
    return role in ALLOWED[action]


def roles_for(action: Action) -> frozenset[Role]:
    return ALLOWED[action]


def actions_of(role: Role) -> list[Action]:
    """What ``role`` may do, in the table's order."""
    return [action for action in Action if role in ALLOWED[action]]


def roles_words(roles: frozenset[Role]) -> str:
    """``owner, admin or approver``: most powerful first, as people say it."""
    names = [role.value for role in Role if role in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def require(role: Role, action: Action) -> None:
    """Raise ``NotAllowed`` (naming the roles that may) unless ``role`` may do ``action``."""
    if not can(role, action):
        raise NotAllowed(action, DOING[action], roles_words(ALLOWED[action]), role)
