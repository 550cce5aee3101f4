"""``assistant bot``: the plugin headless, on its own NATS connection.

Connects with the configured credentials, waits for NATS if it is not up
yet, reconnects forever (logging each disconnect and reconnect; the plugin
keeps its state meanwhile), and on SIGTERM or SIGINT stops taking requests,
lets those in flight answer, saves state and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
from typing import Any

import nats
from nats.errors import Error as NatsError

from ..config import Config
from ..rosey_settings import RoseySettings
from .bus import SecretFilter
from .plugin import LLMPlugin

log = logging.getLogger("assistant.rosey")

RECONNECT_WAIT = 2.0


class CredentialsRefused(Exception):
    """The NATS server answered and refused the credentials: retrying cannot help."""


def connect_options(settings: RoseySettings, servers: list[str], client: Any) -> dict[str, Any]:
    """nats-py ``connect`` keyword arguments for ``client``: credentials, TLS, reconnecting forever.

    nats-py retries the first connection too (forever, as asked), reporting each failure
    to the error callback; refused credentials end that first attempt instead, as no
    retry can fix them.
    """
    url = ", ".join(servers)

    async def disconnected() -> None:
        if not (client.is_closed or client.is_draining):
            log.warning("disconnected from NATS; reconnecting (state is kept)")

    async def reconnected() -> None:
        log.info("reconnected to NATS at %s", _server_url(client))

    async def error(exc: Exception) -> None:
        reason = str(exc) or type(exc).__name__
        if client.is_connected or client.is_reconnecting or client.is_closed:
            log.warning("NATS: %s", reason)
        elif "authorization violation" in reason.lower() or "authentication" in reason.lower():
            raise CredentialsRefused(
                f"NATS at {url} refused the bot's credentials ({reason}): check rosey.user and "
                "rosey.password, rosey.token or rosey.creds_file"
            )
        else:
            log.warning("cannot reach NATS at %s (%s): is nats-server running? retrying every %g s",
                        url, reason, RECONNECT_WAIT)

    async def closed() -> None:
        log.info("NATS connection closed")

    options: dict[str, Any] = {
        "servers": servers,
        "name": "rosey-llm",
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": RECONNECT_WAIT,
        "connect_timeout": 5,
        "disconnected_cb": disconnected,
        "reconnected_cb": reconnected,
        "error_cb": error,
        "closed_cb": closed,
    }
    if settings.user:
        options["user"] = settings.user
    if settings.password is not None:
        options["password"] = settings.password.get_secret_value()
    if settings.token is not None:
        options["token"] = settings.token.get_secret_value()
    if settings.creds_file:
        options["user_credentials"] = str(settings.creds_file.expanduser())
    if settings.tls is not None:
        context = ssl.create_default_context(
            cafile=str(settings.tls.ca_file.expanduser()) if settings.tls.ca_file else None
        )
        if settings.tls.cert_file:
            context.load_cert_chain(
                str(settings.tls.cert_file.expanduser()),
                str(settings.tls.key_file.expanduser()) if settings.tls.key_file else None,
            )
        options["tls"] = context
    return options


async def connect(settings: RoseySettings, url: str, stopping: asyncio.Event) -> Any | None:
    """A connected client, once NATS answers; None when asked to stop first."""
    nc = nats.NATS()
    servers = [one.strip() for one in url.split(",")]
    connecting = asyncio.ensure_future(nc.connect(**connect_options(settings, servers, nc)))
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({connecting, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not connecting.done():
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        return None
    connecting.result()
    log.info("connected to NATS at %s", _server_url(nc))
    return nc


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
        except CredentialsRefused as exc:
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


def _server_url(nc: Any) -> str:
    server = getattr(nc, "connected_url", None)
    return f"{server.scheme}://{server.hostname}:{server.port}" if server else "?"


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
