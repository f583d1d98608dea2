"""Alert rules and alerts: listing, audited changes, acknowledging, and which alerts fire.

``firing_alerts`` is what ``/api/health`` reads: a P0/P1 alert firing makes
the install critical, a P2/P3 one a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.alert_defaults import ensure_default_rules
from store.audit import Actor, AuditRecord, record_one
from store.errors import StoreError
from store.models import Alert, AlertRule

FIRING = ("firing", "clearing")  # told in Slack, not yet resolved


class UnknownRule(StoreError):
    """No alert rule has that name."""


class UnknownAlert(StoreError):
    """No alert has that number."""


@dataclass(frozen=True, slots=True)
class FiringAlert:
    alert_id: int
    rule_slug: str
    rule_name: str
    severity: str  # P0 … P3
    subject: str
    since: datetime
    acknowledged: bool


def _shown(rule: AlertRule) -> dict[str, Any]:
    return {
        "slug": rule.slug,
        "name": rule.name,
        "kind": rule.kind,
        "metric": rule.metric,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "window_seconds": rule.window_seconds,
        "severity": rule.severity,
        "muted_until": rule.muted_until.isoformat() if rule.muted_until else None,
    }


class AlertRules:
    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    async def all(self) -> list[AlertRule]:
        await ensure_default_rules(self.session)
        return list(await self.session.scalars(select(AlertRule).order_by(AlertRule.id)))

    async def get(self, slug: str) -> AlertRule:
        await ensure_default_rules(self.session)
        rule = await self.session.scalar(select(AlertRule).where(AlertRule.slug == slug.lower()))
        if rule is None:
            known = ", ".join(r.slug for r in await self.all())
            raise UnknownRule(f"There is no alert rule “{slug}”. The rules are: {known}.")
        return rule

    async def add(self, rule: AlertRule) -> AlertRule:
        await ensure_default_rules(self.session)
        taken = await self.session.scalar(select(AlertRule.id).where(AlertRule.slug == rule.slug))
        if taken is not None:
            raise StoreError(f"A rule named “{rule.slug}” exists already; change it with `set`.")
        self.session.add(rule)
        await self.session.flush()
        await self._audit("alert_rule.created", rule, None)
        return rule

    async def change(self, slug: str, **values: Any) -> AlertRule:
        rule = await self.get(slug)
        before = _shown(rule)
        for key, value in values.items():
            setattr(rule, key, value)
        await self.session.flush()
        await self._audit("alert_rule.changed", rule, before)
        return rule

    async def mute(self, slug: str, until: datetime) -> AlertRule:
        rule = await self.get(slug)
        before = _shown(rule)
        rule.muted_until, rule.muted_by = until, str(self.actor)
        await self.session.flush()
        await self._audit("alert_rule.muted", rule, before)
        return rule

    async def unmute(self, slug: str) -> AlertRule:
        rule = await self.get(slug)
        before = _shown(rule)
        rule.muted_until, rule.muted_by = None, None
        await self.session.flush()
        await self._audit("alert_rule.unmuted", rule, before)
        return rule

    async def remove(self, slug: str) -> None:
        rule = await self.get(slug)
        await self._audit("alert_rule.removed", rule, _shown(rule), after=False)
        await self.session.delete(rule)
        await self.session.flush()

    async def acknowledge(self, alert_id: int, now: datetime) -> tuple[Alert, bool]:
        """Mark a firing alert acknowledged (stops re-notifying); the first one counts.
        Says whether this call was it."""
        alert = await self.session.get(Alert, alert_id)
        if alert is None or alert.status not in FIRING:
            raise UnknownAlert(f"There is no firing alert #{alert_id}.")
        if alert.acknowledged_by is not None:
            return alert, False
        done = await self.session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.acknowledged_by.is_(None))
            .values(acknowledged_by=str(self.actor), acknowledged_at=now, shown=None)
            .execution_options(synchronize_session=False)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            await self.session.refresh(alert)
            return alert, False
        await record_one(
            self.session,
            self.actor,
            AuditRecord(
                None, "alert.acknowledged", "alert", alert_id, after={"at": now.isoformat()}
            ),
        )
        await self.session.refresh(alert)
        return alert, True

    async def _audit(
        self, action: str, rule: AlertRule, before: dict[str, Any] | None, *, after: bool = True
    ) -> None:
        await record_one(
            self.session,
            self.actor,
            AuditRecord(
                None, action, "alert_rule", rule.id, before, _shown(rule) if after else None
            ),
        )


async def firing_alerts(session: AsyncSession) -> list[FiringAlert]:
    """Alerts firing now (told in Slack, not resolved), most severe first."""
    rows = await session.scalars(
        select(Alert).where(Alert.status.in_(FIRING)).order_by(Alert.severity, Alert.id)
    )
    return [
        FiringAlert(
            a.id,
            a.rule_slug,
            a.rule_name,
            a.severity,
            a.subject,
            a.firing_since or a.breaching_since,
            a.acknowledged_by is not None,
        )
        for a in rows
    ]
