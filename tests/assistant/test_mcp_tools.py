"""MCP servers from config: a real server (mcp_example_server.py, the official SDK over stdio)
offers its tools beside the built-ins; servers that fail are reported and the rest keep working."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import ValidationError

from assistant.tools import MCPServerSettings, ToolBox, ToolResult, ToolSettings, build_toolbox
from llm import ToolCall

shares_the_example_server = pytest.mark.asyncio(loop_scope="module")

EXAMPLE_SERVER = Path(__file__).with_name("mcp_example_server.py")


def example_server(name: str = "example") -> MCPServerSettings:
    return MCPServerSettings(name=name, command=sys.executable, args=[str(EXAMPLE_SERVER)])


async def call(box: ToolBox, name: str, **arguments: object) -> ToolResult:
    return await box.run(ToolCall(id="call-1", name=name, arguments=arguments))


def process_is_gone(pid: int) -> bool:
    """True once the process has exited and been reaped (a zombie still counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def toolbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ToolBox]:
    """The example server beside two that cannot start: one with a wrong command, one that exits at once."""
    servers = [
        MCPServerSettings(name="missing", command="/nonexistent/mcp-server"),
        example_server(),
        MCPServerSettings(
            name="broken", command=sys.executable, args=["-c", "import sys; sys.exit('no API token configured')"]
        ),
    ]
    box = await build_toolbox(ToolSettings(), servers, tmp_path_factory.mktemp("data"))
    yield box
    await box.aclose()


@shares_the_example_server
async def test_mcp_tools_are_offered_beside_the_built_ins_with_their_server_as_source(toolbox: ToolBox) -> None:
    assert {name: toolbox.source(name) for name in toolbox.names()} == {
        "current_datetime": "built-in",
        "calculator": "built-in",
        "remember": "built-in",
        "recall": "built-in",
        "add": "example",
        "shout": "example",
        "fail": "example",
        "example_calculator": "example",
        "pid": "example",
        "crash": "example",
    }


@shares_the_example_server
async def test_an_mcp_tool_keeps_the_schema_and_description_its_server_gives(toolbox: ToolBox) -> None:
    add = next(d for d in toolbox.definitions() if d.name == "add")

    assert add.description == "Add two whole numbers."
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.parameters["properties"]["b"]["description"] == "the second number"


@shares_the_example_server
async def test_calling_an_mcp_tool_returns_what_the_server_answered(toolbox: ToolBox) -> None:
    assert await call(toolbox, "add", a=2, b=40) == ToolResult("42")
    assert await call(toolbox, "shout", text="hello") == ToolResult("HELLO")


@shares_the_example_server
async def test_an_mcp_tool_clashing_with_a_built_in_is_offered_under_its_servers_prefix(toolbox: ToolBox) -> None:
    assert await call(toolbox, "example_calculator", expression="6 * 7") == ToolResult("example server was asked 6 * 7")
    assert await call(toolbox, "calculator", expression="6 * 7") == ToolResult("42")


@shares_the_example_server
async def test_an_mcp_tool_that_fails_gives_an_error_result_with_its_reason(toolbox: ToolBox) -> None:
    result = await call(toolbox, "fail", reason="the disk is full")

    assert result.is_error
    assert "failed on purpose: the disk is full" in result.content


@shares_the_example_server
async def test_arguments_the_server_rejects_give_an_error_result_naming_the_field(toolbox: ToolBox) -> None:
    result = await call(toolbox, "add", a="two", b=2)

    assert result.is_error
    assert "validation error" in result.content
    assert "\na\n" in result.content


@shares_the_example_server
async def test_servers_that_cannot_start_are_reported_and_the_built_ins_still_work(
    toolbox: ToolBox, tmp_path_factory: pytest.TempPathFactory
) -> None:
    missing, broken = toolbox.problems

    assert missing.startswith("MCP server 'missing' did not start: command not found: /nonexistent/mcp-server")
    assert broken.startswith(
        "MCP server 'broken' did not start: it exited before it was ready; it said: no API token configured"
    )
    assert broken.endswith("mcp-broken.log)")
    assert await call(toolbox, "calculator", expression="1 + 1") == ToolResult("2")


async def test_a_server_that_never_answers_is_given_up_after_its_startup_timeout(tmp_path: Path) -> None:
    silent = MCPServerSettings(
        name="silent", command=sys.executable, args=["-c", "import time; time.sleep(600)"], startup_timeout=0.5
    )

    box = await build_toolbox(ToolSettings(), [silent], tmp_path)

    log = tmp_path / "logs" / "mcp-silent.log"
    assert box.problems == [
        f"MCP server 'silent' did not start: no answer within 0.5 s (raise startup_timeout if it is slow) (log: {log})"
    ]
    assert box.names() == ["current_datetime", "calculator", "remember", "recall"]


async def test_quitting_while_a_server_starts_ends_it_without_waiting_out_its_startup_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    slow = MCPServerSettings(
        name="slow",
        command=sys.executable,
        args=["-c", "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)", str(pid_file)],
        startup_timeout=600,
    )
    starting = asyncio.create_task(build_toolbox(ToolSettings(), [slow], tmp_path))
    while not pid_file.exists() or not pid_file.read_text():
        await asyncio.sleep(0.01)

    starting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(starting), timeout=120)  # only a hang guard: it takes seconds
    assert process_is_gone(int(pid_file.read_text()))


async def test_tools_with_the_same_name_on_two_servers_are_both_prefixed(tmp_path: Path) -> None:
    box = await build_toolbox(ToolSettings(), [example_server("one"), example_server("two")], tmp_path)
    try:
        assert await call(box, "one_add", a=1, b=2) == ToolResult("3")
        assert (box.source("one_add"), box.source("two_add")) == ("one", "two")
        assert "add" not in box
        pids = {(await call(box, "one_pid")).content, (await call(box, "two_pid")).content}
        assert len(pids) == 2
    finally:
        await box.aclose()


async def test_closing_the_toolbox_ends_the_server_processes(tmp_path: Path) -> None:
    box = await build_toolbox(ToolSettings(), [example_server()], tmp_path)
    pid = int((await call(box, "pid")).content)
    assert not process_is_gone(pid)

    await box.aclose()

    assert process_is_gone(pid)
    result = await call(box, "add", a=1, b=2)
    assert result == ToolResult("add failed: the MCP server 'example' is not running", is_error=True)


async def test_a_server_that_crashes_mid_session_gives_error_results_not_a_hang(tmp_path: Path) -> None:
    box = await build_toolbox(ToolSettings(), [example_server()], tmp_path)
    try:
        crashed = await call(box, "crash")
        after = await call(box, "add", a=1, b=2)
    finally:
        await box.aclose()

    expected = (
        "failed: the MCP server 'example' has stopped "
        f"(its log: {tmp_path / 'logs' / 'mcp-example.log'}); restart the assistant to start it again"
    )
    assert crashed == ToolResult(f"crash {expected}", is_error=True)
    assert after == ToolResult(f"add {expected}", is_error=True)


def test_server_settings_need_a_name_usable_in_tool_names_and_take_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXAMPLE_TOKEN", "s3cret")

    settings = MCPServerSettings(name="github", command="github-mcp", env={"TOKEN": "${EXAMPLE_TOKEN}"})

    assert settings.env == {"TOKEN": "s3cret"}
    with pytest.raises(ValidationError, match="name"):
        MCPServerSettings(name="my server", command="x")
    with pytest.raises(ValidationError, match="comand"):
        MCPServerSettings.model_validate({"name": "x", "comand": "y"})
