"""What the Slack listeners work with, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.settings import Settings
from dispatch.runtime import Runtime
from store.database import Database
from store.models.base import utcnow


@dataclass
class BotServices:
    settings: Settings
    # The dispatch runtime of the web process: approving, cancelling and
    # retrying enqueue batches on the same broker as the workers read.
    runtime: Runtime
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def database(self) -> Database:
        return self.runtime.database
