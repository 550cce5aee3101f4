"""The bot's own NATS connection: credentials and TLS from ``rosey:``, and refusals said in one line.

nats-py retries the first connection forever (as the bot asks, so it can start
before NATS does), reporting each failure to the error callback. A refusal no
retry can fix (wrong credentials, an untrusted certificate, a missing file)
ends that first attempt instead, as a `NatsRefused` naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

import nats
from nats.errors import Error as NatsError

from ..rosey_settings import RoseySettings

log = logging.getLogger("assistant.rosey")

RECONNECT_WAIT = 2.0
CLOSE_WAIT = 1.0
"""Seconds to close a refused connection: after a failed TLS handshake asyncio never reports the socket closed."""


class NatsRefused(Exception):
    """NATS refused the bot, or the connection settings cannot work: retrying cannot help."""


class TlsNotOffered(NatsError):
    """The server's greeting does not ask for TLS although ``rosey.tls`` is set; nothing more was sent."""


class _EncryptedOnlyClient(nats.NATS):
    """A NATS client that never goes on in plain text: for a bot with ``rosey.tls`` set.

    nats-py upgrades to TLS only when the server's INFO greeting says ``tls_required``;
    otherwise it answers with CONNECT, credentials included, unencrypted, so a server
    without TLS (or anyone in between rewriting its greeting) would read the password
    or token. Every greeting, on each connect and reconnect, is checked here before
    nats-py answers it; ``_process_info`` is nats-py's own step for it, and
    ``tests/rosey/test_secure_nats.py`` pins that nothing is sent after a plain greeting.
    """

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        server = self._current_server
        if initial_connection and not info.get("tls_required") and server and server.uri.scheme != "wss":
            raise TlsNotOffered("the server does not offer TLS (its greeting has no tls_required)")
        await super()._process_info(info, initial_connection)


def credential_settings(settings: RoseySettings) -> str:
    """The settings that hold the credentials in use, for a message that says which to check."""
    if settings.creds_file:
        return "rosey.creds_file"
    if settings.token is not None:
        return "rosey.token"
    if settings.user or settings.password is not None:
        return "rosey.user and rosey.password"
    return "rosey.user and rosey.password, rosey.token or rosey.creds_file (the server wants credentials)"


def refusal(settings: RoseySettings, url: str, exc: BaseException) -> NatsRefused | None:
    """The one-line refusal ``exc`` means on a first connection, or None when a retry may succeed."""
    reason = str(exc) or type(exc).__name__
    lowered = reason.lower()
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NatsRefused(
            f"NATS at {url} presented a certificate this bot does not trust ({exc.verify_message}): "
            "set rosey.tls.ca_file to the CA certificate that signed the server's certificate"
        )
    if isinstance(exc, TlsNotOffered):
        return NatsRefused(
            f"NATS at {url} does not offer TLS, but rosey.tls is set: the bot sent nothing, credentials "
            "included; turn TLS on in nats-server (tls {...} in its config), or remove rosey.tls for a plain connection"
        )
    if isinstance(exc, ssl.SSLError):
        return NatsRefused(f"TLS with NATS at {url} failed ({reason}): check rosey.tls (ca_file, cert_file, key_file)")
    if "authorization violation" in lowered or "authentication" in lowered:
        return NatsRefused(
            f"NATS at {url} refused the bot's credentials ({reason}): check {credential_settings(settings)}"
        )
    if "tls" in lowered and ("required" in lowered or "not available" in lowered):
        return NatsRefused(f"NATS at {url} and the bot disagree about TLS ({reason}): check rosey.tls and the URL")
    return None


def tls_context(settings: RoseySettings) -> ssl.SSLContext | None:
    """The TLS context of ``rosey.tls``; a file that is missing or unreadable is a `NatsRefused`."""
    tls = settings.tls
    if tls is None:
        return None
    ca_file = _readable(tls.ca_file, "rosey.tls.ca_file")
    cert_file = _readable(tls.cert_file, "rosey.tls.cert_file")
    key_file = _readable(tls.key_file, "rosey.tls.key_file")
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:
        raise NatsRefused(f"rosey.tls.ca_file {ca_file} is not a PEM CA certificate ({exc.reason}); "
                          "give the CA file that signed the server's certificate") from None
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except ssl.SSLError as exc:
            raise NatsRefused(f"rosey.tls.cert_file and rosey.tls.key_file do not make a client certificate "
                              f"({exc.reason}); give the PEM certificate and its private key") from None
    elif key_file:
        raise NatsRefused("rosey.tls.key_file is set without rosey.tls.cert_file; set both or neither")
    return context


def connect_options(settings: RoseySettings, servers: list[str], client: Any) -> dict[str, Any]:
    """nats-py ``connect`` keyword arguments for ``client``: credentials, TLS, reconnecting forever."""
    url = ", ".join(servers)

    async def disconnected() -> None:
        if not (client.is_closed or client.is_draining):
            log.warning("disconnected from NATS; reconnecting (state is kept)")

    async def reconnected() -> None:
        log.info("reconnected to NATS at %s", server_url(client))

    async def error(exc: Exception) -> None:
        if client.is_connected or client.is_reconnecting or client.is_closed:
            log.warning("NATS: %s", str(exc) or type(exc).__name__)
        elif (refused := refusal(settings, url, exc)) is not None:
            raise refused
        else:
            log.warning("cannot reach NATS at %s (%s): is nats-server running? retrying every %g s",
                        url, str(exc) or type(exc).__name__, RECONNECT_WAIT)

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
        options["user_credentials"] = _readable(settings.creds_file, "rosey.creds_file")
    if (context := tls_context(settings)) is not None:
        options["tls"] = context
    return options


async def connect(settings: RoseySettings, url: str | None = None, stopping: asyncio.Event | None = None) -> Any:
    """A client connected with ``rosey:``'s credentials once NATS answers; None when ``stopping`` is set first.

    Raises `NatsRefused` when the server refuses the bot or a setting cannot work.
    """
    nc = nats.NATS() if settings.tls is None else _EncryptedOnlyClient()
    servers = [one.strip() for one in (url or settings.nats_url).split(",")]
    connecting = asyncio.ensure_future(nc.connect(**connect_options(settings, servers, nc)))
    stop = asyncio.ensure_future((stopping or asyncio.Event()).wait())
    await asyncio.wait({connecting, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not connecting.done():
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        return None
    try:
        connecting.result()
    except NatsRefused:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT):
                await nc.close()
        raise
    log.info("connected to NATS at %s", server_url(nc))
    return nc


def server_url(nc: Any) -> str:
    server = getattr(nc, "connected_url", None)
    return f"{server.scheme}://{server.hostname}:{server.port}" if server else "?"


def _readable(path: Path | None, setting: str) -> str | None:
    if path is None:
        return None
    resolved = path.expanduser()
    if not resolved.is_file():
        raise NatsRefused(f"{setting}: no file at {resolved}; fix the path in config.yaml")
    try:
        with resolved.open("rb"):
            pass
    except OSError as exc:
        raise NatsRefused(f"{setting}: cannot read {resolved} ({exc.strerror}); check its permissions") from None
    return str(resolved)
