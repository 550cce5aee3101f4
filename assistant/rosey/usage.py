"""Today's usage (UTC day): requests and real token counts per user, per channel and in total.

Counts are kept in memory for speed and saved as *increments* (never as
absolute values), so several bot processes sharing one store add up instead
of overwriting each other, and a restart carries on from the saved day.
The book also notices when a user's daily requests or the day's tokens
cross 80 % and 100 % of their limit, once each per day (the rate limiter
does the same for the minute and hour windows).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..rosey_settings import RateLimitSettings

THRESHOLDS = (80, 100)

UsageKey = tuple[str, str]
"""("user", name), ("channel", name) or ("total", "")."""
TOTAL: UsageKey = ("total", "")


@dataclass(slots=True)
class Counts:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Counts) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_dict(cls, data: dict) -> Counts:
        return cls(int(data.get("requests", 0)), int(data.get("prompt_tokens", 0)), int(data.get("completion_tokens", 0)))


@dataclass(frozen=True, slots=True)
class ThresholdCrossed:
    """A limit crossed 80 % or 100 %: the fields of the real plugin's ``UsageThresholdEvent``."""

    user: str
    channel: str
    threshold_type: str  # "minute", "hour", "day" (a user's requests) or "tokens" (everyone's tokens today)
    current: int
    limit: int

    @property
    def percentage(self) -> float:
        """The share of the limit used, as a fraction (0.8 at 80 %)."""
        return round(self.current / self.limit, 4)

    def to_event(self) -> dict[str, object]:
        return {"user": self.user, "channel": self.channel, "threshold_type": self.threshold_type,
                "current": self.current, "limit": self.limit, "percentage": self.percentage}


def crossings(user: str, channel: str, threshold_type: str, before: int, now: int, limit: int) -> list[ThresholdCrossed]:
    """The thresholds a count passed on its way from ``before`` to ``now``: one event per threshold."""
    if not limit:
        return []
    return [ThresholdCrossed(user, channel, threshold_type, now, limit)
            for percent in THRESHOLDS if before * 100 < limit * percent <= now * 100]


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def seconds_until_next_day(now: float) -> float:
    return 86400 - now % 86400


class UsageBook:
    """Today's counts: what the store holds plus what this process has not saved yet.

    It owns the unsaved increments and which thresholds were announced today; it
    never writes the store (the service saves what `take_unsaved` hands over) and
    never refuses a request (the rate limiter does).
    """

    def __init__(self, limits: RateLimitSettings, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        now = clock()
        self.day = utc_day(now)
        self._day_ends = now + seconds_until_next_day(now)
        self._saved: dict[UsageKey, Counts] = {}
        self._unsaved: dict[str, dict[UsageKey, Counts]] = defaultdict(dict)
        self._crossed: set[tuple[str, UsageKey, int]] = set()

    def get(self, key: UsageKey) -> Counts:
        """Today's counts for ``key``: what the store holds plus what is not saved yet."""
        self._roll_over()
        counts = Counts()
        if saved := self._saved.get(key):
            counts.add(saved)
        if unsaved := self._unsaved.get(self.day, {}).get(key):
            counts.add(unsaved)
        return counts

    def count_request(self, user: str, channel: str) -> list[ThresholdCrossed]:
        self._add(user, channel, Counts(requests=1))
        return self._thresholds(user, channel)

    def count_tokens(self, user: str, channel: str, prompt: int, completion: int) -> list[ThresholdCrossed]:
        self._add(user, channel, Counts(prompt_tokens=prompt, completion_tokens=completion))
        return self._thresholds(user, channel)

    def take_unsaved(self) -> dict[str, dict[UsageKey, Counts]]:
        """The increments not saved yet, by day; give them back with `restore_unsaved` if saving fails."""
        taken, self._unsaved = dict(self._unsaved), defaultdict(dict)
        return taken

    def restore_unsaved(self, increments: dict[str, dict[UsageKey, Counts]]) -> None:
        for day, by_key in increments.items():
            for key, counts in by_key.items():
                self._unsaved[day].setdefault(key, Counts()).add(counts)

    def set_saved(self, day: str, totals: dict[UsageKey, Counts], *, announced: bool = False) -> None:
        """What the store holds for ``day`` (every process's increments included).

        ``announced``: thresholds these totals already cross were announced before (a restart
        loading the day's usage), so they are not announced again.
        """
        self._roll_over()
        if day != self.day:
            return
        self._saved = dict(totals)
        if announced:
            for kind, name in list(totals):
                if kind == "user":
                    self._thresholds(name, "")
            self._thresholds("", "")

    @property
    def has_unsaved(self) -> bool:
        return any(self._unsaved.values())

    def _add(self, user: str, channel: str, counts: Counts) -> None:
        self._roll_over()
        today = self._unsaved[self.day]
        keys: list[UsageKey] = [TOTAL]
        if user:
            keys.append(("user", user))
        if channel:
            keys.append(("channel", channel))
        for key in keys:
            today.setdefault(key, Counts()).add(counts)

    def _thresholds(self, user: str, channel: str) -> list[ThresholdCrossed]:
        crossed: list[ThresholdCrossed] = []
        checks = (
            ("day", ("user", user), self.get(("user", user)).requests, self.limits.requests_per_day, user),
            ("tokens", TOTAL, self.get(TOTAL).tokens, self.limits.tokens_per_day, ""),
        )
        for kind, key, current, limit, who in checks:
            if not limit:
                continue
            for percent in THRESHOLDS:
                mark = (kind, key, percent)
                if current * 100 >= limit * percent and mark not in self._crossed:
                    self._crossed.add(mark)
                    crossed.append(ThresholdCrossed(who, channel, kind, current, limit))
        return crossed

    def _roll_over(self) -> None:
        now = self._clock()
        if now >= self._day_ends:
            self.day = utc_day(now)
            self._day_ends = now + seconds_until_next_day(now)
            self._saved = {}
            self._crossed.clear()
