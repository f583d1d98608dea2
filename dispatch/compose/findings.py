"""A compliance finding: what is wrong, how much it matters, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    BLOCKING = "blocking"  # approval is impossible until it is fixed
    WARNING = "warning"  # worth fixing; the campaign may still go out
    INFO = "info"  # what will happen, so nobody is surprised


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"[{self.severity.value}] {self.message}" + (f" Fix: {self.fix}" if self.fix else "")
