"""What an import did, as the planner reads it in the CLI and in Slack."""

from __future__ import annotations

from dataclasses import dataclass, field

from store.guestlist.import_consent import ConsentOutcome
from store.guestlist.reader import RowProblem


@dataclass(slots=True)
class ImportReport:
    wedding_name: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # Guests in the file whose address is on the opt-out list: imported, never messaged.
    suppressed: int = 0
    consent: ConsentOutcome = field(default_factory=ConsentOutcome)
    # The file has an sms_consent column: it answers for consent itself.
    consent_column: bool = False
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def asks_for_sms_consent(self) -> bool:
        """Guests with a mobile number have no SMS consent, and the file did not say:
        the planner may confirm they agreed (Slack asks; the CLI has --sms-consent)."""
        return self.consent.missing > 0 and not self.consent_column

    def lines(self, consent_hint: str | None = None) -> list[str]:
        """What the planner reads, in the CLI and in Slack; ``consent_hint`` (how to
        record the missing consents) follows the line that says they are missing."""
        summary = (
            f"{self.wedding_name}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )
        rows = len({problem.line for problem in self.problems})
        summary += f", {rows} row{'s' if rows != 1 else ''} with problems" if rows else ""
        out = [summary + "."]
        if self.suppressed:
            out.append(
                f"{self.suppressed} of these guests opted out earlier and will not be messaged."
            )
        out.extend(self.consent.lines())
        if consent_hint and self.asks_for_sms_consent:
            out.append(consent_hint)
        out.extend(self.notes)
        out.extend(str(problem) for problem in self.problems)
        return out
