"""Bots scaled out on one JetStream KV bucket enforce one set of limits; bots on SQLite each count their own."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from assistant.rosey.ratelimit import RateLimited
from tests.rosey.conftest import BotProcess, ask, bot_config, write_config

LIMITS = {
    "a user's minute": ({"requests_per_minute": 3}, "3 requests a minute per user"),
    "a user's hour": ({"requests_per_minute": 0, "requests_per_hour": 3}, "3 requests an hour per user"),
    "a user's day": ({"requests_per_minute": 0, "requests_per_day": 3}, "3 requests a day per user"),
}


def jetstream(bucket: str) -> dict:
    return {"backend": "jetstream", "bucket": bucket}


async def two_bots(plugin_factory, limits: dict) -> list:
    """Two plugins on two connections sharing a fresh KV bucket, with the same ``rate_limits``."""
    bucket = f"limits-{uuid.uuid4().hex[:8]}"
    return [await plugin_factory(memory=jetstream(bucket), rate_limits=limits) for _ in range(2)]


@pytest.mark.parametrize("limit", list(LIMITS))
async def test_two_bots_on_one_bucket_let_a_user_through_as_often_as_one_would(plugin_factory, limit) -> None:
    limits, refusal = LIMITS[limit]
    first, second = await two_bots(plugin_factory, limits)

    for bot in (first, second, first):
        await bot.service.chat("lobby", "alice", "hello")
    for bot in (second, first):
        with pytest.raises(RateLimited, match=refusal):
            await bot.service.chat("lobby", "alice", "once more")
    await second.service.chat("lobby", "bob", "bob has his own limit")


async def test_two_bots_on_one_bucket_share_a_channel_limit(plugin_factory) -> None:
    limits = {"requests_per_minute": 0, "channel_requests_per_hour": 3}
    first, second = await two_bots(plugin_factory, limits)

    await first.service.chat("lobby", "alice", "one")
    await second.service.chat("lobby", "bob", "two")
    await first.service.chat("lobby", "carol", "three")
    with pytest.raises(RateLimited, match="3 requests an hour in this channel"):
        await second.service.chat("lobby", "dave", "four")
    await second.service.chat("cellar", "dave", "another channel")


async def test_a_refused_request_takes_no_slot_from_the_user_or_the_channel(plugin_factory) -> None:
    first, second = await two_bots(plugin_factory, {"requests_per_minute": 2, "channel_requests_per_hour": 1})

    await first.service.chat("lobby", "alice", "the lobby's one request")
    with pytest.raises(RateLimited, match="in this channel"):
        await second.service.chat("lobby", "alice", "refused by the lobby's limit")
    await second.service.chat("cellar", "alice", "still her second request of the minute")
    with pytest.raises(RateLimited, match="2 requests a minute per user"):
        await first.service.chat("attic", "alice", "refused by her own limit")
    await second.service.chat("attic", "bob", "the attic's one request is still free")


async def test_usage_reports_count_what_every_bot_served(plugin_factory) -> None:
    first, second = await two_bots(plugin_factory, {"requests_per_minute": 5})
    await first.service.chat("lobby", "alice", "one")
    await second.service.chat("lobby", "alice", "two")

    report, _ = second.service.usage_report("alice", "lobby")

    assert report["rate_limits_remaining"]["requests_minute"] == 3


async def test_bots_on_sqlite_each_count_their_own_requests(plugin_factory, tmp_path) -> None:
    limits = {"requests_per_minute": 2}
    first = await plugin_factory(memory={"path": str(tmp_path / "first.sqlite3")}, rate_limits=limits)
    second = await plugin_factory(memory={"path": str(tmp_path / "second.sqlite3")}, rate_limits=limits)

    for bot in (first, first, second, second):
        await bot.service.chat("lobby", "alice", "hello")
    for bot in (first, second):
        with pytest.raises(RateLimited):
            await bot.service.chat("lobby", "alice", "once more")


async def test_two_bot_processes_answer_a_user_within_one_limit(nc, backend, tmp_path, nats_server) -> None:
    bucket = f"limits-{uuid.uuid4().hex[:8]}"
    bots = []
    for name in ("first", "second"):
        raw = bot_config(tmp_path / name, backend.base_url, nats_server.url, memory=jetstream(bucket),
                         rate_limits={"requests_per_minute": 3})
        bots.append(BotProcess(write_config(tmp_path / f"{name}.yaml", raw), tmp_path / f"{name}.log"))
    try:
        await asyncio.gather(*(bot.wait_until_serving() for bot in bots))
        replies = [await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": f"q{i}"})
                   for i in range(8)]

        served = [reply for reply in replies if reply["success"]]
        refused = [reply for reply in replies if not reply["success"]]
        assert len(served) == 3
        assert all("rate limit reached (3 requests a minute per user)" in reply["error"] for reply in refused)
    finally:
        for bot in bots:
            bot.kill()


async def test_a_request_over_a_limit_another_bot_just_filled_is_refused_without_waiting_for_the_model(
    plugin_factory, backend, monkeypatch
) -> None:
    first, second = await two_bots(plugin_factory, {"requests_per_minute": 1})
    await first.service.chat("lobby", "alice", "the minute's one request")
    # The second bot has not heard of that request yet, so it starts the turn while the bucket decides.
    monkeypatch.setattr(second.service.store, "known_record", lambda kind, name: {})
    gate = backend.gate("too soon")

    with pytest.raises(RateLimited, match=r"\(1 requests a minute per user\)"):
        async with asyncio.timeout(10):
            await second.service.chat("lobby", "alice", "too soon")
    gate.open()

    await second.service.chat("lobby", "bob", "what did alice say?")
    asked = [m["content"] for m in backend.chat_requests()[-1]["body"]["messages"] if m["role"] == "user"]
    assert asked == ["alice: the minute's one request", "bob: what did alice say?"]
