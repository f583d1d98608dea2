"""Everything the dispatch services need, built once per process by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis

from dispatch.breaker import CircuitBreaker
from dispatch.compose.tracking_tokens import TrackingTokens
from dispatch.compose.unsubscribe_tokens import UnsubscribeTokens
from dispatch.limits import TierLimiter
from dispatch.pacing import Pacer
from dispatch.providers.base import EmailProvider, SmsProvider
from dispatch.settings import DispatchSettings
from store.database import Database
from store.enums import Channel
from store.models.base import utcnow


@dataclass(frozen=True, slots=True)
class BatchRef:
    """A broker message's whole content: ids only."""

    campaign_id: int
    first_id: int
    last_id: int


Enqueue = Callable[[BatchRef, float], None]  # (batch, delay in seconds)


@dataclass
class Runtime:
    database: Database
    settings: DispatchSettings
    sms: SmsProvider
    email: EmailProvider
    tier_limiter: TierLimiter
    pacer: Pacer
    breaker: CircuitBreaker
    tokens: UnsubscribeTokens
    enqueue: Enqueue
    worker_id: str
    clock: Callable[[], datetime] = field(default=utcnow)
    # Shared by the limiter, pacer and breaker when configured; closed with us.
    redis: Redis | None = None
    # Messages the broker still holds for the send queue (blocking call).
    backlog: Callable[[], int] = field(default=lambda: 0)
    # Whether the broker lost its messages since the last look (dispatch.broker.forgot).
    broker_forgot: Callable[[], bool] = field(default=lambda: False)
    # Open and click tokens of organisations that track; None: nobody is tracked.
    tracking: TrackingTokens | None = None

    def provider_name(self, channel: Channel) -> str:
        """The circuit breaker key: the channel and the provider behind it."""
        name = self.sms.name if channel == Channel.SMS else self.email.name
        return f"{channel.value}:{name}"

    async def close(self) -> None:
        await self.sms.close()
        await self.email.close()
        await self.database.dispose()
        if self.redis is not None:
            await self.redis.aclose()
