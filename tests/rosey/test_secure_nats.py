"""A NATS server that wants credentials or TLS: the bot logs in each way, and a refusal names the setting to fix."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys
import pytest

from assistant.config import Config
from assistant.rosey.connection import NatsRefused, connect
from assistant.rosey.plugin import LLMPlugin
from assistant.rosey_settings import RoseySettings
from tests.rosey.conftest import BotProcess, NatsServer, ask, bot_config, write_config
from tests.rosey.secure_nats import Operator, make_tls_files, new_key

PASSWORD = "s3cret-nats-password"
TOKEN = "t0ken-for-the-rosey-bus"


@dataclass
class Secured:
    """A running nats-server secured one way, the ``rosey:`` settings it accepts, and ones it refuses."""

    server: NatsServer
    good: dict[str, Any]
    bad: dict[str, Any]
    refusal: str
    bad_secret: str
    """What the refused settings hold that must not be logged (empty when they hold nothing secret)."""


def _secure(mode: str, tmp_path: Path) -> tuple[tuple[str, ...], dict[str, Any], dict[str, Any], str, str]:
    if mode == "user and password":
        return (("--user", "rosey", "--pass", PASSWORD), {"user": "rosey", "password": PASSWORD},
                {"user": "rosey", "password": "wrong-password"}, "check rosey.user and rosey.password",
                "wrong-password")
    if mode == "token":
        return (("--auth", TOKEN), {"token": TOKEN}, {"token": "not-the-token"}, "check rosey.token", "not-the-token")
    if mode == "creds file":
        operator = Operator(tmp_path / "operator")
        stranger = operator.creds_file("stranger", signed_by=new_key(nkeys.PREFIX_BYTE_ACCOUNT))
        return (("-c", str(operator.server_config)), {"creds_file": str(operator.creds_file("bot").path)},
                {"creds_file": str(stranger.path)}, "check rosey.creds_file", stranger.seed)
    tls = make_tls_files(tmp_path / "tls")
    other_ca = make_tls_files(tmp_path / "other", ca_name="Some other CA")["ca_file"]
    return (("--tls", "--tlscert", str(tls["cert_file"]), "--tlskey", str(tls["key_file"])),
            {"tls": {"ca_file": str(tls["ca_file"])}}, {"tls": {"ca_file": str(other_ca)}},
            "set rosey.tls.ca_file to the CA certificate that signed the server's certificate", "")


@pytest.fixture(params=["user and password", "token", "creds file", "TLS with our own CA"])
def secured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Secured]:
    extra, good, bad, refusal, bad_secret = _secure(request.param, tmp_path)
    server = NatsServer(tmp_path / "store", jetstream=False, extra=extra)
    server.start()
    try:
        yield Secured(server, good, bad, refusal, bad_secret)
    finally:
        server.stop()


def settings(secured: Secured, rosey: dict[str, Any]) -> RoseySettings:
    return RoseySettings.model_validate({"nats_url": secured.server.url, **rosey})


async def test_the_bot_answers_the_room_through_a_secured_server(secured, backend, tmp_path) -> None:
    bot_connection = await connect(settings(secured, secured.good))
    room = await connect(settings(secured, secured.good))
    config = Config.model_validate(bot_config(tmp_path, backend.base_url, secured.server.url, **secured.good))
    try:
        async with LLMPlugin(bot_connection, config):
            reply = await ask(room, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "hello"})
        assert reply["success"] is True and reply["result"] == "You said: alice: hello"
    finally:
        await room.close()
        await bot_connection.close()


async def test_a_refused_connection_is_one_line_naming_the_setting(secured) -> None:
    with pytest.raises(NatsRefused) as refused:
        await connect(settings(secured, secured.bad))

    message = str(refused.value)
    assert secured.refusal in message
    assert secured.server.url in message and "\n" not in message


@pytest.mark.parametrize("secured", ["token", "creds file", "TLS with our own CA"], indirect=True)
async def test_assistant_bot_refused_by_nats_exits_1_with_the_fix(secured, backend, tmp_path) -> None:
    config = write_config(tmp_path / "bot.yaml", bot_config(tmp_path, backend.base_url, secured.server.url,
                                                            **secured.bad))
    bot = BotProcess(config, tmp_path / "bot.log")
    try:
        assert await bot.wait_exit() == 1
        log = bot.log()
        assert secured.refusal in log
        assert "Traceback" not in log
        assert not secured.bad_secret or secured.bad_secret not in log
    finally:
        bot.kill()


async def test_a_credentials_file_that_is_not_there_is_named_before_connecting(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "bot.creds"
    with pytest.raises(NatsRefused, match=f"rosey.creds_file: no file at {missing}; fix the path in config.yaml"):
        await connect(RoseySettings(nats_url="nats://127.0.0.1:1", creds_file=missing))


async def test_a_bot_set_up_for_tls_refuses_a_server_without_it(tmp_path) -> None:
    server = NatsServer(tmp_path / "store", jetstream=False, extra=("--user", "rosey", "--pass", PASSWORD))
    server.start()
    tls = make_tls_files(tmp_path / "tls")
    try:
        with pytest.raises(NatsRefused) as refused:
            await connect(RoseySettings(nats_url=server.url, user="rosey", password=PASSWORD,
                                        tls={"ca_file": tls["ca_file"]}))
    finally:
        server.stop()

    message = str(refused.value)
    assert f"NATS at {server.url} does not offer TLS, but rosey.tls is set" in message
    assert "\n" not in message and PASSWORD not in message


async def test_the_password_never_goes_in_plain_text_to_a_greeting_without_tls(tmp_path) -> None:
    """Someone between the bot and NATS who strips ``tls_required`` from the server's greeting reads nothing."""
    received = bytearray()

    async def plain_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'INFO {"server_id":"NMITM","version":"2.10.22","proto":1,"max_payload":1048576,'
                     b'"auth_required":true,"headers":true}\r\n')
        await writer.drain()
        while chunk := await reader.read(4096):
            received.extend(chunk)
        writer.close()

    listener = await asyncio.start_server(plain_greeting, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    tls = make_tls_files(tmp_path / "tls")
    try:
        with pytest.raises(NatsRefused, match="does not offer TLS"):
            await connect(RoseySettings(nats_url=f"nats://127.0.0.1:{port}", user="rosey", password=PASSWORD,
                                        tls={"ca_file": tls["ca_file"]}))
    finally:
        listener.close()
        await listener.wait_closed()

    assert PASSWORD.encode() not in received
    assert b"CONNECT" not in received
