"""Rate limits (per user a minute, an hour and a day; per channel an hour; tokens a day) and the usage book.

Everything runs on a clock the test moves: no waiting.
"""

from __future__ import annotations

import asyncio

import pytest

from assistant.rosey.ratelimit import RateLimited, RateLimiter
from assistant.rosey.usage import TOTAL, Counts, UsageBook
from assistant.rosey_settings import RateLimitSettings
from tests.rosey.conftest import Recorder, ask

MIDDAY = 1_790_000_000.0 - 1_790_000_000.0 % 86400 + 43200  # 12:00 UTC on some day


class Clock:
    def __init__(self, now: float = MIDDAY) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(**limits: int) -> tuple[RateLimiter, UsageBook, Clock]:
    settings = RateLimitSettings(**limits)
    clock = Clock()
    usage = UsageBook(settings, clock=clock)
    return RateLimiter(settings, usage, clock=clock, wall_clock=clock), usage, clock


def admit(limiter_: RateLimiter, usage: UsageBook, user: str = "alice", channel: str = "lobby") -> None:
    limiter_.admit(user, channel)
    usage.count_request(user, channel)


def test_the_per_minute_limit_says_when_to_come_back() -> None:
    rate, usage, clock = limiter(requests_per_minute=3)
    for _ in range(3):
        admit(rate, usage)
        clock.now += 10

    with pytest.raises(RateLimited) as limited:
        admit(rate, usage)
    assert limited.value.retry_after == 30  # the first request leaves the window 60 s after it was made
    assert "try again in 30 s" in str(limited.value)

    clock.now += 30
    admit(rate, usage)


def test_users_have_separate_limits() -> None:
    rate, usage, _ = limiter(requests_per_minute=2)
    admit(rate, usage, "alice")
    admit(rate, usage, "alice")
    with pytest.raises(RateLimited):
        admit(rate, usage, "alice")
    admit(rate, usage, "bob")


def test_the_hourly_limits_per_user_and_per_channel() -> None:
    rate, usage, clock = limiter(requests_per_minute=0, requests_per_hour=5, channel_requests_per_hour=8)
    for _ in range(5):
        admit(rate, usage, "alice")
        clock.now += 60
    with pytest.raises(RateLimited) as per_user:
        admit(rate, usage, "alice")
    assert per_user.value.limit == "5 requests an hour per user"
    assert per_user.value.retry_after == 3600 - 5 * 60

    for _ in range(3):
        admit(rate, usage, "bob")
    with pytest.raises(RateLimited) as per_channel:
        admit(rate, usage, "carol")
    assert per_channel.value.limit == "8 requests an hour in this channel"
    admit(rate, usage, "carol", channel="elsewhere")


def test_the_daily_limits_last_until_midnight_utc() -> None:
    rate, usage, clock = limiter(requests_per_minute=0, requests_per_hour=0, requests_per_day=2)
    admit(rate, usage)
    admit(rate, usage)
    with pytest.raises(RateLimited) as limited:
        admit(rate, usage)
    assert limited.value.retry_after == 12 * 3600

    clock.now += 12 * 3600
    admit(rate, usage)


def test_the_daily_token_budget_is_shared_by_everyone() -> None:
    rate, usage, _ = limiter(tokens_per_day=1000)
    admit(rate, usage, "alice")
    usage.count_tokens("alice", "lobby", 600, 400)

    with pytest.raises(RateLimited) as limited:
        admit(rate, usage, "bob")
    assert "1000 tokens a day" in str(limited.value)


def test_a_zero_limit_is_no_limit() -> None:
    rate, usage, _ = limiter(requests_per_minute=0, requests_per_hour=0, requests_per_day=0,
                             channel_requests_per_hour=0, tokens_per_day=0)
    refused: list[RateLimited] = []
    announced = []
    for _ in range(1000):
        try:
            rate.admit("alice", "lobby")
        except RateLimited as limited:
            refused.append(limited)
        announced += usage.count_request("alice", "lobby")
        announced += usage.count_tokens("alice", "lobby", 10_000, 10_000)

    assert refused == []
    assert announced == []
    assert usage.get(("user", "alice")).requests == 1000 and usage.get(TOTAL).tokens == 20_000_000


def test_thresholds_are_announced_once_at_80_and_once_at_100_percent() -> None:
    usage = UsageBook(RateLimitSettings(requests_per_day=10, tokens_per_day=1000), clock=Clock())
    announced = []
    for _ in range(12):
        announced += usage.count_request("alice", "lobby")
    announced += usage.count_tokens("alice", "lobby", 700, 100)
    announced += usage.count_tokens("alice", "lobby", 100, 100)
    announced += usage.count_tokens("alice", "lobby", 100, 100)

    assert [(t.threshold_type, t.percentage, t.current, t.user) for t in announced] == [
        ("day", 0.8, 8, "alice"), ("day", 1.0, 10, "alice"), ("tokens", 0.8, 800, ""), ("tokens", 1.0, 1000, ""),
    ]


def test_usage_saved_as_increments_adds_up_and_a_restart_does_not_announce_again() -> None:
    settings = RateLimitSettings(requests_per_day=10)
    usage = UsageBook(settings, clock=Clock())
    for _ in range(9):
        usage.count_request("alice", "lobby")
    increments = usage.take_unsaved()
    assert increments[usage.day][("user", "alice")] == Counts(requests=9)

    restarted = UsageBook(settings, clock=Clock())
    restarted.set_saved(restarted.day, {("user", "alice"): Counts(9), TOTAL: Counts(9)}, announced=True)
    assert restarted.get(("user", "alice")).requests == 9
    assert [t.percentage for t in restarted.count_request("alice", "lobby")] == [1.0]


# ---------------------------------------------------------------- on the bus


async def test_a_flood_from_one_user_is_cut_at_the_limit_and_told_when_to_retry(nc, plugin_factory) -> None:
    await plugin_factory(rate_limits={"requests_per_minute": 5})
    errors = await Recorder().listen(nc, "rosey.event.llm.error", "llm.error")

    flood = [ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": f"spam {i}"})
             for i in range(30)]
    replies = await asyncio.gather(*flood)
    bob = await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "bob", "message": "hello"})

    served = [r for r in replies if r["success"]]
    limited = [r for r in replies if not r["success"]]
    assert len(served) == 5 and len(limited) == 25
    assert all(r["rate_limited"] is True and 1 <= r["retry_after"] <= 60 for r in limited)
    assert all(r["error"] == f"rate limit reached (5 requests a minute per user): try again in {r['retry_after']} s"
               for r in limited)
    assert bob["success"] is True
    events = await errors.wait_for("rosey.event.llm.error", lambda e: e["error_type"] == "rate_limit", count=25)
    assert {e["user"] for e in events} == {"alice"}
    broadcasts = await errors.wait_for("llm.error", count=25)
    assert all(b["rate_limited"] and b["channel"] == "lobby" for b in broadcasts)


async def test_daily_usage_thresholds_are_announced_once_each(nc, plugin_factory) -> None:
    await plugin_factory(rate_limits={"requests_per_minute": 0, "requests_per_day": 10})
    thresholds = await Recorder().listen(nc, "rosey.event.llm.usage.threshold", "rosey.event.llm.usage_threshold")

    replies = [await ask(nc, "rosey.llm.chat", {"channel": "lobby", "user": "alice", "message": f"q{i}"})
               for i in range(12)]

    assert [r["success"] for r in replies] == [True] * 10 + [False] * 2
    for subject in ("rosey.event.llm.usage_threshold", "rosey.event.llm.usage.threshold"):
        events = await thresholds.wait_for(subject, count=2)
        assert events == [
            {"user": "alice", "channel": "lobby", "threshold_type": "day", "current": 8, "limit": 10,
             "percentage": 0.8},
            {"user": "alice", "channel": "lobby", "threshold_type": "day", "current": 10, "limit": 10,
             "percentage": 1.0},
        ]
        assert len(thresholds.on(subject)) == 2
