"""One set of rate limits for every bot process sharing a JetStream KV bucket.

Each user's request times of the last hour and count of requests today, and
each channel's request times of the last hour, are records in the bucket that
every process changes with compare-and-set (re-read and re-applied when
another process wrote in between), so two bots let a user through as often as
one bot would. The user's and the room's slots are taken at once (one round
trip, not two), and the one taken is given back when the other is refused.
The day's token budget is read from the usage book: tokens are known only
once a request is answered, and every process's counts meet in the store
within a second of each request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
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
ADMISSION_WAITS_AT_MOST = 0.005
"""Seconds a background admission waits for its turn's request to be written before it begins anyway
(a model in the bot's own process writes none)."""


class BackgroundAdmission:
    """A request's admission, decided while its turn already runs, once the turn's request is on its way.

    The admission writes the limit records (two KV round trips); begun at once, its work ran
    before the turn's request reached the socket, and every answer came 0.7-1.0 ms later
    (bench/bot_throughput.py). Nothing runs until `begin`: the turn calls it when its request
    is written, a request that must queue behind its channel's turn calls it at once, and a
    timer calls it when no request is written at all. The turn runs in the caller's own task
    (a task of its own cost another 0.1-0.2 ms per request); `refusal_interrupts` lets a
    refusal stop it there.
    """

    def __init__(self, admit: Callable[[], Awaitable[None]]) -> None:
        self._admit = admit
        self._deciding: asyncio.Task[None] | None = None
        self._deadline = asyncio.get_running_loop().call_later(ADMISSION_WAITS_AT_MOST, self.begin)
        self._interrupted: asyncio.Task[Any] | None = None
        self._failure: BaseException | None = None

    def begin(self) -> None:
        """Begin deciding now, if not begun yet."""
        if self._deciding is None:
            self._deadline.cancel()
            self._deciding = asyncio.get_running_loop().create_task(self._admit())
            self._deciding.add_done_callback(self._on_decision)

    async def decided(self) -> None:
        """Wait for the decision (beginning it now if it has not begun); `RateLimited` on a refusal."""
        self.begin()
        assert self._deciding is not None
        await self._deciding

    @contextmanager
    def refusal_interrupts(self) -> Iterator[None]:
        """A refusal (or a store failure) while the block runs stops the current task wherever it waits,
        and is raised out of the block in place of the cancellation."""
        task = asyncio.current_task()
        assert task is not None
        self._interrupted = task
        try:
            yield
        except asyncio.CancelledError:
            if self._failure is None:
                raise
            task.uncancel()
            raise self._failure from None
        finally:
            self._interrupted = None

    def _on_decision(self, deciding: asyncio.Task[None]) -> None:
        if self._interrupted is None or deciding.cancelled() or deciding.exception() is None:
            return
        self._failure = deciding.exception()
        self._interrupted.cancel()

    async def settle(self) -> None:
        """No longer wanted: stopped if still running, its outcome collected."""
        self._deadline.cancel()
        if self._deciding is not None:
            self._deciding.cancel()
            await asyncio.gather(self._deciding, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One record an admission changes: how to take the request's slot in it at a moment, and give it back."""

    kind: str
    name: str
    take: Callable[[dict[str, Any], float], dict[str, Any]]
    give_back: Callable[[dict[str, Any], float], dict[str, Any]]


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
        self._refuse_over_budget()
        slots = self._slots(user, channel)
        if not slots:
            return []
        async with self._admitting:
            now = self._clock()
            records = await self._take(slots, now)
        if slots[0].kind != USER_RECORD:
            return []
        self._seen[user] = records[0]["times"]
        return window_crossings(self.limits, user, channel, records[0]["times"], now)

    def expects_admission(self, user: str, channel: str) -> bool:
        """Whether the records as this process last saw them leave room for the request (no round trip)."""
        try:
            self._refuse_over_budget()
            now = self._clock()
            for slot in self._slots(user, channel):
                record = self.store.known_record(slot.kind, slot.name)
                if record is None:
                    return False
                slot.take(record, now)
        except RateLimited:
            return False
        return True

    def _refuse_over_budget(self) -> None:
        limits = self.limits
        if limits.tokens_per_day and self.usage.get(TOTAL).tokens >= limits.tokens_per_day:
            raise RateLimited(f"{limits.tokens_per_day} tokens a day for everyone",
                              seconds_until_next_day(self._clock()))

    def _slots(self, user: str, channel: str) -> list[_Slot]:
        """The records a request takes a slot in: the user's first, then the room's (when limited)."""
        limits = self.limits
        slots = []
        if limits.requests_per_minute or limits.requests_per_hour or limits.requests_per_day:
            slots.append(_Slot(USER_RECORD, user, self._user_slot, _user_without))
        if channel and limits.channel_requests_per_hour:
            slots.append(_Slot(CHANNEL_RECORD, channel, self._channel_slot, _without))
        return slots

    async def _take(self, slots: list[_Slot], now: float) -> list[dict[str, Any]]:
        """Every slot taken at once; when one is refused, the others are given back and the refusal raised."""
        results = await asyncio.gather(
            *(self.store.change_record(slot.kind, slot.name, partial(slot.take, now=now)) for slot in slots),
            return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if not failures:
            return results
        taken = [slot for slot, result in zip(slots, results) if not isinstance(result, BaseException)]
        await asyncio.gather(*(self.store.change_record(slot.kind, slot.name, partial(slot.give_back, moment=now))
                               for slot in taken), return_exceptions=True)
        raise failures[0]

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
    """The record with the slot taken at ``moment`` given back (the request was refused after all)."""
    times = list(record.get("times", []))
    if moment in times:
        times.remove(moment)
    return {**record, "times": times}


def _user_without(record: dict[str, Any], moment: float) -> dict[str, Any]:
    """The user's record with the request counted at ``moment`` given back (its room was full)."""
    given_back = _without(record, moment)
    if len(given_back["times"]) < len(record.get("times", [])):
        given_back["requests"] = max(0, record.get("requests", 1) - 1)
    return given_back
