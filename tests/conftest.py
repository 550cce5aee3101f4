"""Real parts shared by the suite: the bundled model and a real OpenAI-compatible server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from llm.providers.local import bundled_model_path

if TYPE_CHECKING:
    from tests.alsa_card import FileSoundCard
    from tests.scripted_openai import ScriptedOpenAI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The bundled Gemma 3 270M GGUF, assembled once into the user cache."""
    return bundled_model_path()


class LlamaServer:
    """`python -m llama_cpp.server` serving the bundled model on a free loopback port."""

    def __init__(self, model: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server",
                "--model", str(model), "--model_alias", "gemma-3-270m", "--chat_format", "gemma",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", "2048", "--n_threads", str(os.cpu_count() or 1), "--verbose", "False",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}:\n{self.log.read()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/models", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"llama_cpp.server did not answer on {self.base_url} within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def llama_server(model_path: Path) -> Iterator[LlamaServer]:
    server = LlamaServer(model_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted_openai() -> Iterator[ScriptedOpenAI]:
    """A loopback OpenAI-compatible server answering from a script (see tests/scripted_openai.py)."""
    from tests.scripted_openai import ScriptedOpenAI

    server = ScriptedOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sound_card(tmp_path: Path) -> FileSoundCard:
    """ALSA's ``file`` plugin as microphone and speaker (see tests/alsa_card.py)."""
    from tests.alsa_card import SYSTEM_ALSA_CONF, FileSoundCard

    if not SYSTEM_ALSA_CONF.is_file():
        pytest.skip(f"ALSA's {SYSTEM_ALSA_CONF} is missing: apt-get install libasound2-data")
    return FileSoundCard(tmp_path)
