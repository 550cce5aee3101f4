"""``assistant bot``: the plugin headless, on its own NATS connection.

Connects with the configured credentials and TLS (``connection.py``), waits
for NATS if it is not up yet, reconnects forever (logging each disconnect and
reconnect; the plugin keeps its state meanwhile), and on SIGTERM or SIGINT
stops taking requests, lets those in flight answer, saves state and exits 0.
A server that refuses the bot ends it at once with exit 1 and one line.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from nats.errors import Error as NatsError

from ..collector import keep_out_of_full_collections
from ..config import Config
from .bus import SecretFilter
from .connection import NatsRefused, connect
from .plugin import LLMPlugin

log = logging.getLogger("assistant.rosey")


async def run_bot(config: Config, nats_url: str | None = None) -> int:
    """Run the plugin until SIGTERM/SIGINT; 0 after a clean stop, 1 when it could not start."""
    _setup_logging()
    settings = config.rosey
    url = nats_url or settings.nats_url
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        try:
            nc = await connect(settings, url, stopping)
        except NatsRefused as exc:
            log.error("%s", exc)
            return 1
        if nc is None:
            return 0
        plugin = LLMPlugin(nc, config)
        secret_filter = SecretFilter(plugin.secrets())
        for handler in logging.getLogger().handlers:
            handler.addFilter(secret_filter)
        try:
            await plugin.start()
        except Exception as exc:  # noqa: BLE001 - a start failure is a message for the operator, not a traceback
            log.error("the plugin could not start: %s", exc)
            await nc.close()
            return 1
        keep_out_of_full_collections()
        await stopping.wait()
        log.info("stopping: finishing the requests in flight")
        await plugin.stop()
        try:
            await nc.drain()
        except (TimeoutError, NatsError, OSError):
            await nc.close()
        return 0
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
