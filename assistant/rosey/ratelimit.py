"""The bot's rate limits: per user a minute, an hour and a (UTC) day; per channel an hour; tokens a day.

A limited request is told when to come back (``retry_after`` seconds, never
less than one), so the room hears "try again in 40 s" instead of silence.
Here the minute and hour windows slide in this process and the daily limits
read the usage book: the limits of one process. Bot processes sharing a
JetStream KV bucket enforce one set of limits together (``sharedlimits.py``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from ..rosey_settings import RateLimitSettings
from .usage import TOTAL, ThresholdCrossed, UsageBook, crossings, seconds_until_next_day

MINUTE = 60.0
HOUR = 3600.0
USER_MINUTE = "requests a minute per user"
USER_HOUR = "requests an hour per user"
USER_DAY = "requests a day per user"
CHANNEL_HOUR = "requests an hour in this channel"


class RateLimited(Exception):
    def __init__(self, limit: str, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"rate limit reached ({limit}): try again in {_duration(self.retry_after)}")


class RateLimiter:
    """Admits a request or says when to come back; a limit of 0 is no limit.

    It owns the minute and hour windows of this process; the daily limits are read
    from the usage book, which it never changes.
    """

    def __init__(
        self,
        limits: RateLimitSettings,
        usage: UsageBook,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.usage = usage
        self._clock = clock
        self._wall_clock = wall_clock
        self._users: dict[str, deque[float]] = {}
        self._channels: dict[str, deque[float]] = {}

    def admit(self, user: str, channel: str) -> list[ThresholdCrossed]:
        """Let one request of ``user`` in ``channel`` through, or raise `RateLimited`.

        Returns the minute and hour thresholds this request made the user cross.
        """
        limits = self.limits
        now = self._clock()
        if limits.tokens_per_day and self.usage.get(TOTAL).tokens >= limits.tokens_per_day:
            raise RateLimited(f"{limits.tokens_per_day} tokens a day for everyone", self._until_tomorrow())
        if limits.requests_per_day and self.usage.get(("user", user)).requests >= limits.requests_per_day:
            raise RateLimited(f"{limits.requests_per_day} {USER_DAY}", self._until_tomorrow())
        mine = self._window(self._users, user, now)
        refuse_when_full(mine, limits.requests_per_hour, HOUR, now, USER_HOUR)
        refuse_when_full(times_since(mine, now - MINUTE), limits.requests_per_minute, MINUTE, now, USER_MINUTE)
        room = self._window(self._channels, channel, now) if channel else None
        if room is not None:
            refuse_when_full(room, limits.channel_requests_per_hour, HOUR, now, CHANNEL_HOUR)
            room.append(now)
        mine.append(now)
        return window_crossings(limits, user, channel, mine, now)

    def recent(self, user: str) -> tuple[int, int]:
        """The user's requests of the last minute and of the last hour."""
        now = self._clock()
        window = self._window(self._users, user, now)
        return len(times_since(window, now - MINUTE)), len(window)

    @staticmethod
    def _window(windows: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        """The key's request times of the last hour (older ones dropped)."""
        window = windows.get(key)
        if window is None:
            window = windows[key] = deque()
        while window and window[0] <= now - HOUR:
            window.popleft()
        return window

    def _until_tomorrow(self) -> float:
        return seconds_until_next_day(self._wall_clock())


def refuse_when_full(recent: Sequence[float], limit: int, period: float, now: float, what: str) -> None:
    """Refuse when ``recent`` (the request times of the last ``period``) already holds ``limit``."""
    if limit and len(recent) >= limit:
        oldest_that_counts = recent[len(recent) - limit]
        raise RateLimited(f"{limit} {what}", oldest_that_counts + period - now)


def window_crossings(
    limits: RateLimitSettings, user: str, channel: str, times: Sequence[float], now: float
) -> list[ThresholdCrossed]:
    """The minute and hour thresholds the newest of the user's ``times`` (oldest first) crossed."""
    in_minute = len(times_since(times, now - MINUTE))
    return [*crossings(user, channel, "minute", in_minute - 1, in_minute, limits.requests_per_minute),
            *crossings(user, channel, "hour", len(times) - 1, len(times), limits.requests_per_hour)]


def times_since(window: Sequence[float], start: float) -> list[float]:
    """The times in ``window`` (oldest first) after ``start``, read from the newest end."""
    recent: list[float] = []
    for moment in reversed(window):
        if moment <= start:
            break
        recent.append(moment)
    recent.reverse()
    return recent


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3600)} h"
