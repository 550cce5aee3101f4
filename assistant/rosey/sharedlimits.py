"""One set of rate limits for every bot process sharing a JetStream KV bucket.

Each user's request times of the last hour and count of requests today, and
each channel's request times of the last hour, are records in the bucket that
every process changes with compare-and-set (re-read and re-applied when
another process wrote in between), so two bots let a user through as often as
one bot would. The day's token budget is read from the usage book: tokens are
known only once a request is answered, and every process's counts meet in the
store within a second of each request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..rosey_settings import RateLimitSettings
from .ratelimit import (
    CHANNEL_HOUR,
    HOUR,
    MINUTE,
    USER_DAY,
    USER_HOUR,
    USER_MINUTE,
    RateLimited,
    refuse_when_full,
    times_since,
    window_crossings,
)
from .store import Store
from .usage import TOTAL, ThresholdCrossed, UsageBook, seconds_until_next_day, utc_day

USER_RECORD = "limits-user"
CHANNEL_RECORD = "limits-channel"


class SharedRateLimiter:
    """Admits a request or says when to come back, counting every process's requests.

    It owns nothing in the bucket beyond the limit records, and never changes the
    usage book. Admissions of this process take turns, so requests are still admitted,
    and queued on their channel, in arrival order.
    """

    def __init__(
        self, limits: RateLimitSettings, usage: UsageBook, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self.limits = limits
        self.usage = usage
        self.store = store
        self._clock = clock
        self._admitting = asyncio.Lock()
        self._seen: dict[str, list[float]] = {}

    async def admit(self, user: str, channel: str) -> list[ThresholdCrossed]:
        """Let one request of ``user`` in ``channel`` through, or raise `RateLimited`."""
        limits = self.limits
        if limits.tokens_per_day and self.usage.get(TOTAL).tokens >= limits.tokens_per_day:
            raise RateLimited(f"{limits.tokens_per_day} tokens a day for everyone",
                              seconds_until_next_day(self._clock()))
        in_room = bool(channel and limits.channel_requests_per_hour)
        per_user = bool(limits.requests_per_minute or limits.requests_per_hour or limits.requests_per_day)
        if not (in_room or per_user):
            return []
        async with self._admitting:
            now = self._clock()
            if in_room:
                await self.store.change_record(CHANNEL_RECORD, channel, lambda record: self._channel_slot(record, now))
            if not per_user:
                return []
            try:
                record = await self.store.change_record(USER_RECORD, user, lambda record: self._user_slot(record, now))
            except RateLimited:
                if in_room:
                    await self.store.change_record(CHANNEL_RECORD, channel, lambda record: _without(record, now))
                raise
        self._seen[user] = record["times"]
        return window_crossings(limits, user, channel, record["times"], now)

    def recent(self, user: str) -> tuple[int, int]:
        """The user's requests of the last minute and of the last hour, as this process last saw them."""
        now = self._clock()
        seen = self._seen.get(user, [])
        return len(times_since(seen, now - MINUTE)), len(times_since(seen, now - HOUR))

    def _user_slot(self, record: dict[str, Any], now: float) -> dict[str, Any]:
        limits = self.limits
        times = _recent_times(record, now, HOUR if limits.requests_per_hour else MINUTE)
        today = utc_day(now)
        requests = record.get("requests", 0) if record.get("day") == today else 0
        if limits.requests_per_day and requests >= limits.requests_per_day:
            raise RateLimited(f"{limits.requests_per_day} {USER_DAY}", seconds_until_next_day(now))
        refuse_when_full(times, limits.requests_per_hour, HOUR, now, USER_HOUR)
        refuse_when_full(times_since(times, now - MINUTE), limits.requests_per_minute, MINUTE, now, USER_MINUTE)
        return {"times": [*times, now], "day": today, "requests": requests + 1}

    def _channel_slot(self, record: dict[str, Any], now: float) -> dict[str, Any]:
        times = _recent_times(record, now, HOUR)
        refuse_when_full(times, self.limits.channel_requests_per_hour, HOUR, now, CHANNEL_HOUR)
        return {"times": [*times, now]}


def _recent_times(record: dict[str, Any], now: float, period: float) -> list[float]:
    return [moment for moment in record.get("times", []) if moment > now - period]


def _without(record: dict[str, Any], moment: float) -> dict[str, Any]:
    """The channel record with the slot taken at ``moment`` given back (its user was refused)."""
    times = list(record.get("times", []))
    if moment in times:
        times.remove(moment)
    return {**record, "times": times}
