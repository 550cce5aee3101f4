"""``assistant wyoming`` as an operator runs it: it serves, it refuses a bad address, SIGTERM drains it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from wyoming.asr import Transcript
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from tests.conftest import free_port
from tests.wyoming.wire import HANG_GUARD, is_type, read_one, read_until, send


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "--config", str(config), "wyoming", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


async def connected(port: int, process: subprocess.Popen[str]) -> AsyncTcpClient:
    """A client of the server once it listens (it loads Whisper and Piper first)."""
    async with asyncio.timeout(HANG_GUARD):
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                client = AsyncTcpClient("127.0.0.1", port)
                await client.connect()
                return client
            except OSError:
                await asyncio.sleep(0.1)


def write_config(tmp_path: Path, base_url: str, zeroconf_name: str = "rosey") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\nllm:\n  backend: mlx\n  mlx:\n    base_url: {base_url}\n"
                    f"wyoming:\n  zeroconf_name: {zeroconf_name}\n")
    return path


async def test_sigterm_lets_the_answer_in_progress_finish_then_exits_0(tmp_path: Path, scripted_openai) -> None:
    scripted_openai.reply("Goodnight, the lights are off.", pieces=4, piece_delay=0.5)
    port = free_port()
    process = start(write_config(tmp_path, scripted_openai.base_url), "--uri", f"tcp://127.0.0.1:{port}",
                    "--no-zeroconf")
    try:
        client = await connected(port, process)
        await send(client, Describe().event())
        assert (await read_one(client)).type == "info"
        await send(client, Transcript(text="Goodnight.", context={"conversation_id": "bedroom"}).event())
        async with asyncio.timeout(HANG_GUARD):
            while not scripted_openai.requests:
                await asyncio.sleep(0.05)

        process.send_signal(signal.SIGTERM)
        answer = (await read_until(client, is_type("handled", "not-handled", "error")))[-1]
        await client.disconnect()
        code = await asyncio.to_thread(process.wait, HANG_GUARD)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert (answer.type, answer.data["text"]) == ("handled", "Goodnight, the lights are off.")
    assert code == 0, process.stderr.read()
    log = process.stderr.read()
    assert "serving Home Assistant on tcp://127.0.0.1" in log
    assert "stopping" in log


def test_an_address_that_is_not_tcp_is_refused_with_how_to_write_one(tmp_path: Path) -> None:
    process = start(write_config(tmp_path, "http://127.0.0.1:9/v1"), "--uri", "http://0.0.0.0:10300")
    _, stderr = process.communicate(timeout=HANG_GUARD)

    assert process.returncode == 2
    assert "write it like tcp://0.0.0.0:10300" in stderr


def multicast_route() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("224.0.0.251", 1))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not multicast_route(), reason="no multicast route: zeroconf cannot be heard here")
async def test_home_assistant_discovers_the_server_by_zeroconf(tmp_path: Path) -> None:
    port = free_port()
    name = f"rosey-test-{port}"
    process = start(write_config(tmp_path, "http://127.0.0.1:9/v1", zeroconf_name=name),
                    "--uri", f"tcp://0.0.0.0:{port}")
    try:
        client = await connected(port, process)
        await client.disconnect()
        zeroconf = AsyncZeroconf()
        try:
            info = AsyncServiceInfo("_wyoming._tcp.local.", f"{name}._wyoming._tcp.local.")
            async with asyncio.timeout(HANG_GUARD):
                while not await info.async_request(zeroconf.zeroconf, 3000):
                    pass
        finally:
            await zeroconf.async_close()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, HANG_GUARD)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert info.port == port
    assert code == 0
