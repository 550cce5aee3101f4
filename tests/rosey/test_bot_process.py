"""`assistant bot` as an operator runs it: separate processes, signals, restarts, two instances, secrets."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from tests.rosey.conftest import (
    WAIT,
    BotProcess,
    NatsServer,
    Recorder,
    ask,
    bot_config,
    write_config,
)

KEY = "sk-rosey-test-SECRET-0123456789"


def start_bot(tmp_path: Path, name: str, raw: dict, env: dict[str, str] | None = None) -> BotProcess:
    config = write_config(tmp_path / f"{name}.yaml", raw)
    return BotProcess(config, tmp_path / f"{name}.log", env)


async def chat(nc, channel: str, user: str, text: str, timeout: float = WAIT) -> dict:
    return await ask(nc, "rosey.command.chat", {"channel": channel, "user": user, "args": text}, timeout=timeout)


async def test_sigterm_lets_the_request_in_flight_answer_then_exits_0(nc, backend, tmp_path, nats_server) -> None:
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, nats_server.url))
    try:
        await bot.wait_until_serving()
        gate = backend.gate("long question", "the answer after all")
        in_flight = asyncio.create_task(chat(nc, "lobby", "alice", "a long question"))
        await gate.wait_held(1)

        bot.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            while "stopping: finishing the requests in flight" not in bot.log():
                await asyncio.sleep(0.02)
        gate.open()

        assert (await in_flight)["result"] == "the answer after all"
        assert await bot.wait_exit() == 0
        log = bot.log()
        assert "request subject=rosey.command.chat channel=\"lobby\" user=\"alice\" outcome=ok" in log
        assert "Rosey LLM plugin stopped" in log
    finally:
        bot.kill()


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
async def test_state_survives_a_restart_of_the_bot(nc, backend, tmp_path, nats_server, how) -> None:
    raw = bot_config(tmp_path, backend.base_url, nats_server.url)
    first = start_bot(tmp_path, "first", raw)
    try:
        await first.wait_until_serving()
        await chat(nc, "lobby", "alice", "persona technical")
        await chat(nc, "lobby", "alice", "my favourite editor is vim")
        await chat(nc, "lobby", "alice", "remember alice uses vim")
    finally:
        if how == "SIGTERM":
            first.process.send_signal(signal.SIGTERM)
            assert await first.wait_exit() == 0
        else:
            first.kill()

    second = start_bot(tmp_path, "second", raw)
    try:
        await second.wait_until_serving()
        await chat(nc, "lobby", "bob", "what does alice use?")
        sent = backend.chat_requests()[-1]["body"]["messages"]
        assert "Help with programming" in sent[0]["content"]
        assert "- alice: alice uses vim" in sent[0]["content"]
        assert [m["content"] for m in sent[1:]] == [
            "alice: my favourite editor is vim", "You said: alice: my favourite editor is vim",
            "bob: what does alice use?",
        ]
    finally:
        second.kill()


async def test_the_bot_reconnects_after_nats_restarts(backend, tmp_path) -> None:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, server.url))
    client = None
    try:
        await bot.wait_until_serving()
        client = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        assert (await chat(client, "lobby", "alice", "before"))["result"] == "You said: alice: before"

        server.stop()
        server.start()

        reply = await _ask_until_answered(client, "lobby", "alice", "after")
        assert reply["result"] == "You said: alice: after"
        assert [m["content"] for m in backend.chat_requests()[-1]["body"]["messages"][1:]] == [
            "alice: before", "You said: alice: before", "alice: after"]
        assert "disconnected from NATS" in bot.log() and "reconnected to NATS" in bot.log()
    finally:
        bot.kill()
        if client is not None:
            await client.close()
        server.stop()


async def test_two_bots_share_the_work_and_the_memory(nc, backend, tmp_path, nats_server) -> None:
    raw = bot_config(tmp_path, backend.base_url, nats_server.url,
                     memory={"backend": "jetstream", "bucket": "two-bots"}, rate_limits={"requests_per_minute": 0})
    bots = [start_bot(tmp_path, f"bot{i}", {**raw, "data_dir": str(tmp_path / f"data{i}")}) for i in (1, 2)]
    try:
        for bot in bots:
            await bot.wait_until_serving()
        answers = await Recorder().listen(nc, "llm.response")

        for i in range(40):
            request = {"action": "chat", "channel_id": f"room-{i % 8}", "message": f"question {i}",
                       "username": "quizbot", "request_id": i}
            await nc.publish("llm.request", json.dumps(request).encode())
        await answers.wait_for("llm.response", count=40)

        assert sorted(answer["request_id"] for answer in answers.on("llm.response")) == list(range(40))
        assert all(bot.log().count("request subject=llm.request") > 0 for bot in bots)

        await chat(nc, "lobby", "alice", "remember the quiz starts at nine")
        for _ in range(4):
            assert (await chat(nc, "lobby", "bob", "recall quiz"))["result"] == \
                "I remember: the quiz starts at nine (alice)"
    finally:
        for bot in bots:
            bot.kill()


async def test_the_api_key_is_never_published_or_logged(nc, backend, tmp_path, nats_server) -> None:
    raw = bot_config(tmp_path, backend.base_url, nats_server.url)
    raw["llm"]["mlx"]["api_key_env"] = "ROSEY_TEST_KEY"
    bot = start_bot(tmp_path, "bot", raw, env={"ROSEY_TEST_KEY": KEY})
    everything = Recorder()
    await everything.listen(nc, ">")
    try:
        await bot.wait_until_serving()
        backend.answer("leak", lambda body: backend_error_echoing(body))

        echoed = await chat(nc, "lobby", "alice", f"my key is {KEY}")
        failed = await chat(nc, "lobby", "alice", "please leak it")
        await ask(nc, "rosey.llm.status", {})
        await ask(nc, "llm.request", {"action": "complete", "message": f"say {KEY}"})
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.wait_exit() == 0

        assert backend.chat_requests()[-1]["headers"]["Authorization"] == f"Bearer {KEY}"
        assert echoed["result"] == "You said: alice: my key is ***"
        assert failed["success"] is False and "unavailable" in failed["error"]
        published = json.dumps([payload for subject, payload in everything.messages if subject.startswith(
            ("_INBOX.", "llm.response", "llm.error", "rosey.event."))])
        assert "You said" in published and "unavailable" in published
        assert KEY not in published
        assert KEY not in bot.log() and "request subject=" in bot.log()
    finally:
        bot.kill()


def backend_error_echoing(body: dict):
    """A backend that puts the caller's key in its error message, as some proxies do."""
    from tests.rosey.scripted_backend import Reply

    return Reply(status=401, error=f"invalid api key {KEY}")


async def _ask_until_answered(client, channel: str, user: str, text: str) -> dict:
    """Ask until the bot has reconnected and resubscribed (the server restart drops every interest)."""
    async with asyncio.timeout(60):
        while True:
            try:
                return await chat(client, channel, user, text, timeout=2)
            except (TimeoutError, NatsError):
                await asyncio.sleep(0.2)


async def test_a_bot_that_cannot_start_says_why_and_exits_1(backend, tmp_path) -> None:
    server = NatsServer(tmp_path / "unused", jetstream=False)
    server.start()
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, server.url,
                                                memory={"backend": "jetstream"}))
    try:
        assert await bot.wait_exit() == 1
        assert "is JetStream enabled on the NATS server (nats-server -js)?" in bot.log()
    finally:
        bot.kill()
        server.stop()


async def test_the_bot_logs_in_with_a_user_and_password_it_never_logs(backend, tmp_path) -> None:
    password = "s3cret-nats-password"
    server = NatsServer(tmp_path / "js", extra=("--user", "rosey", "--pass", password))
    server.start()
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, server.url,
                                                user="rosey", password=password))
    client = None
    try:
        await bot.wait_until_serving()
        client = await nats.connect(server.url, user="rosey", password=password)
        assert (await chat(client, "lobby", "alice", "hello"))["success"] is True
        await client.close()
        client = None
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.wait_exit() == 0
        assert password not in bot.log()
    finally:
        bot.kill()
        if client is not None:
            await client.close()
        server.stop()


async def test_wrong_credentials_stop_the_bot_with_a_message(backend, tmp_path) -> None:
    server = NatsServer(tmp_path / "js", extra=("--user", "rosey", "--pass", "right"))
    server.start()
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, server.url,
                                                user="rosey", password="wrong"))
    try:
        assert await bot.wait_exit() == 1
        assert "refused the bot's credentials" in bot.log() and "check rosey.user and rosey.password" in bot.log()
        assert "wrong" not in bot.log()
    finally:
        bot.kill()
        server.stop()


async def test_a_bot_started_before_nats_waits_for_it(backend, tmp_path) -> None:
    server = NatsServer(tmp_path / "js")
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, server.url))
    client = None
    try:
        async with asyncio.timeout(WAIT):
            while "cannot reach NATS" not in bot.log():
                await asyncio.sleep(0.05)
        server.start()
        await bot.wait_until_serving()

        client = await nats.connect(server.url)
        assert (await chat(client, "lobby", "alice", "finally"))["result"] == "You said: alice: finally"
    finally:
        bot.kill()
        if client is not None:
            await client.close()
        server.stop()


async def test_a_bot_waiting_for_nats_stops_on_sigterm(backend, tmp_path) -> None:
    bot = start_bot(tmp_path, "bot", bot_config(tmp_path, backend.base_url, NatsServer(tmp_path).url))
    try:
        async with asyncio.timeout(WAIT):
            while "cannot reach NATS" not in bot.log():
                await asyncio.sleep(0.05)
        bot.process.send_signal(signal.SIGTERM)

        assert await bot.wait_exit() == 0
    finally:
        bot.kill()
