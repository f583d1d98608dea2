"""Recent request outcomes of this process: the response time and error rate in /api/health."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RequestStats:
    window: int = 1000
    _samples: deque[tuple[float, bool]] = field(init=False)

    def __post_init__(self) -> None:
        self._samples = deque(maxlen=self.window)

    def record(self, seconds: float, *, server_error: bool) -> None:
        self._samples.append((seconds, server_error))

    def mean_response_ms(self) -> float:
        if not self._samples:
            return 0.0
        return round(1000 * sum(s for s, _ in self._samples) / len(self._samples), 2)

    def error_rate_percent(self) -> float:
        if not self._samples:
            return 0.0
        errors = sum(1 for _, failed in self._samples if failed)
        return round(100 * errors / len(self._samples), 2)
