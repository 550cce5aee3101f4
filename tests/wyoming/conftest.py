"""The Wyoming server on a free loopback port, with the real Whisper, Piper and backends behind it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from wyoming.client import AsyncTcpClient

from assistant.config import Config, load_config
from assistant.wyoming.connection import Services
from assistant.wyoming.handle import Conversations
from assistant.wyoming.info import server_info
from assistant.wyoming.server import WyomingServer
from audio import Synthesizer, Transcriber
from tests.audio.conftest import model_cache, synthesizer, transcriber

__all__ = ["model_cache", "synthesizer", "transcriber"]  # the audio tests' warm Whisper tiny.en, Piper voice, models

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


def wyoming_config(tmp_path: Path, **overrides: Any) -> Config:
    """The documented config.yaml with data in ``tmp_path``."""
    return load_config(REPO_CONFIG, {"data_dir": str(tmp_path / "data"), **overrides})


class RunningServer:
    """A server in this process and how to reach it."""

    def __init__(self, server: WyomingServer, port: int) -> None:
        self.server = server
        self.port = port

    def client(self) -> AsyncTcpClient:
        return AsyncTcpClient("127.0.0.1", self.port)


async def serve(config: Config, transcriber: Transcriber, synthesizer: Synthesizer) -> tuple[RunningServer, Services]:
    conversations = await Conversations.start(config) if "handle" in config.wyoming.services else None
    info = server_info(config, synthesizer.voice_path).event()
    services = Services(config.wyoming, info, transcriber, config.audio.stt.model, config.audio.vad, synthesizer,
                        conversations)
    server = WyomingServer(services)
    return RunningServer(server, await server.start("127.0.0.1", 0)), services


@contextlib.asynccontextmanager
async def served(config: Config, transcriber: Transcriber, synthesizer: Synthesizer) -> AsyncIterator[RunningServer]:
    """A server on ``config`` for the length of the block."""
    running, services = await serve(config, transcriber, synthesizer)
    try:
        yield running
    finally:
        await running.server.stop(drain_seconds=5)
        if services.conversations is not None:
            await services.conversations.close()


@pytest.fixture
def scripted_wyoming_config(tmp_path: Path, scripted_openai) -> Config:
    """Answers come from the scripted OpenAI-compatible server, so their words can be checked."""
    return wyoming_config(tmp_path, **{"llm.backend": "mlx", "llm.mlx.base_url": scripted_openai.base_url})


@pytest.fixture
async def wyoming_server(
    scripted_wyoming_config: Config, transcriber: Transcriber, synthesizer: Synthesizer
) -> AsyncIterator[RunningServer]:
    async with served(scripted_wyoming_config, transcriber, synthesizer) as running:
        yield running
