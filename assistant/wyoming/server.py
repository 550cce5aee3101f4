"""``assistant wyoming``: the server Home Assistant adds as a Wyoming integration.

Every connection is its own task (``connection.Connection``), so one
satellite's slow audio never holds up another's answer. The models are
loaded and warmed before the port opens, so the first request is as quick
as the rest. On SIGTERM or SIGINT the server stops accepting, lets the
requests being answered finish, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

from audio import AudioError, Synthesizer, Transcriber
from audio.wakeword import WakeWordDetector
from llm import LLMError

from ..config import Config
from ..personas import PersonaBook, UnknownPersonaError
from .connection import Connection, Services
from .handle import Conversations
from .info import server_info
from .protocol import MAX_HEADER_BYTES
from .settings import tcp_address

log = logging.getLogger("assistant.wyoming")

DRAIN_SECONDS = 30.0
"""How long requests in progress may take to finish once the server is asked to stop."""


class WyomingServer:
    """The listening socket and the connections it accepted."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], Connection] = {}

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_HEADER_BYTES)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Accept no more clients; let requests in progress finish (up to ``drain_seconds``), then close."""
        if self._server is not None:
            self._server.close()
        for connection in self._connections.values():
            connection.drain()
        tasks = list(self._connections)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=drain_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(self.services, reader, writer)
        task = asyncio.current_task()
        self._connections[task] = connection
        log.info("%s connected from %s", connection.name, _peer(writer))
        try:
            await connection.run()
        finally:
            del self._connections[task]
            log.info("%s left", connection.name)


async def load_services(config: Config) -> Services:
    """The parts ``wyoming.services`` asks for, loaded and warmed; raises ``AudioError`` or ``LLMError``."""
    settings = config.wyoming
    audio = config.audio_settings()
    transcriber = synthesizer = conversations = None
    if "asr" in settings.services:
        transcriber = Transcriber(audio.stt, cache_dir=audio.cache_dir)
        await transcriber.warm_async()
    if "tts" in settings.services:
        synthesizer = Synthesizer(audio.tts)
        await synthesizer.warm_async()
    if "wake" in settings.services:
        await asyncio.to_thread(_check_wake_words, settings.wake_words)
    if "handle" in settings.services:
        conversations = await Conversations.start(config)
    info = server_info(config, synthesizer.voice_path if synthesizer else None).event()
    return Services(settings, info, transcriber, audio.stt.model, audio.vad, synthesizer, conversations)


def _check_wake_words(models: list[str]) -> None:
    """Load each default wake word once, so a missing model stops the server at start, not at the first detect."""
    for model in models:
        WakeWordDetector(model).close()


async def close_services(services: Services) -> None:
    for part in (services.transcriber, services.synthesizer):
        if part is not None:
            part.close()
    if services.conversations is not None:
        await services.conversations.close()


async def run_server(config: Config, uri: str | None = None, zeroconf: bool | None = None) -> int:
    """Serve until SIGTERM/SIGINT; 0 after a clean stop, 1 when it could not start."""
    _setup_logging()
    settings = config.wyoming
    try:
        host, port = tcp_address(uri or settings.uri)
    except ValueError as exc:
        log.error("--uri: %s", exc)
        return 2
    try:
        PersonaBook(config.assistant.personas).get(settings.persona)
        services = await load_services(config)
    except UnknownPersonaError as exc:
        log.error("wyoming.persona: %s", exc)
        return 1
    except (AudioError, LLMError) as exc:
        log.error("%s", exc.message)
        return 1
    try:
        with _stop_signals() as stopping:
            return await _serve(WyomingServer(services), host, port, settings.zeroconf if zeroconf is None else zeroconf,
                                stopping)
    finally:
        await close_services(services)


async def _serve(server: WyomingServer, host: str, port: int, zeroconf: bool, stopping: asyncio.Event) -> int:
    settings = server.services.settings
    try:
        port = await server.start(host, port)
    except OSError as exc:
        log.error("cannot listen on tcp://%s:%d: %s (is another server on that port? choose one with --uri)",
                  host, port, exc.strerror or exc)
        return 1
    log.info("serving Home Assistant on tcp://%s:%d (%s)", host, port, ", ".join(settings.services))
    advertiser = None
    if zeroconf:
        from .discovery import advertise

        advertiser = await advertise(settings.zeroconf_name, port, host)
    await stopping.wait()
    log.info("stopping: finishing the requests in progress")
    if advertiser is not None:
        await advertiser.close()
    await server.stop()
    return 0


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stopping.set)
    try:
        yield stopping
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"


def _setup_logging() -> None:
    """One line per request on stderr; httpx's and faster-whisper's own lines per call would double them."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "faster_whisper"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
