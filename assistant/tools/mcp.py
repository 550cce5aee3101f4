"""Tools of Model Context Protocol servers, offered to the model beside the built-ins.

Each server in ``assistant.mcp_servers`` is started as a child process and
spoken to over its stdin/stdout with the official ``mcp`` SDK. Servers start
together; one that cannot start (a wrong command, a crash, no answer within
``startup_timeout``) becomes a line in ``ToolBox.problems`` with the reason and
the last words it wrote to stderr, and the others carry on.

Names: an MCP tool keeps its own name when no built-in and no other server
uses it and it is a valid tool name (letters, digits, ``_``, ``-``, at most 64);
otherwise it is offered as ``<server>_<tool>``. Its ``source`` is the server's
name, which the TUI shows beside each call.

Each server's stderr goes to ``<data_dir>/logs/mcp-<name>.log``, never to the
terminal the TUI draws on.

The ``mcp`` SDK is imported only when a server is started, so reading the
configuration stays fast.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pydantic_core

from llm import ToolDefinition

from ._core import Tool, ToolError, ToolResult
from .settings import MCPServerSettings

if TYPE_CHECKING:
    import anyio
    import mcp_types
    from mcp import Client

logger = logging.getLogger(__name__)

MAX_TOOL_NAME = 64
_VALID_TOOL_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOOL_NAME}}}")
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_LIST_PAGES_LIMIT = 100
_STDERR_TAIL_LINES = 3


class MCPServerError(Exception):
    """A server could not be started; the message says why."""


class MCPConnection:
    """One MCP server process and its client session, owned by one task from start to stop.

    The SDK's stdio transport opens anyio cancel scopes that must be closed by the task
    that opened them, so a single task enters the session, stays inside it while calls
    from any task go through it (answers are matched to requests by id), and leaves it
    when ``stop`` is called.
    """

    def __init__(self, settings: MCPServerSettings, log_path: Path | None = None) -> None:
        self.settings = settings
        self.log_path = log_path
        self._client: Client | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._startup: anyio.CancelScope | None = None
        self._log_start = 0

    @property
    def name(self) -> str:
        return self.settings.name

    async def start(self) -> list[mcp_types.Tool]:
        """Start the server and list its tools; raises ``MCPServerError`` naming the cause."""
        ready: asyncio.Future[list[mcp_types.Tool]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._own_session(ready), name=f"MCP server {self.name}")
        try:
            return await asyncio.shield(ready)
        except BaseException:
            await self.stop()
            raise

    async def call(self, tool_name: str, arguments: dict[str, Any]) -> ToolResult:
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        client = self._client
        if client is None:
            raise ToolError(f"the MCP server '{self.name}' is not running")
        try:
            result = await client.call_tool(tool_name, arguments)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                log = f" (its log: {self.log_path})" if self.log_path else ""
                raise ToolError(
                    f"the MCP server '{self.name}' has stopped{log}; restart the assistant to start it again"
                ) from None
            raise ToolError(f"the MCP server '{self.name}' refused the call: {exc.message}") from None
        return _tool_result(result)

    async def stop(self) -> None:
        """Close the session and end the process (the SDK kills it if it lingers).

        Stopping a server that is still starting (the app quits early) cuts its startup short
        rather than waiting out ``startup_timeout``.
        """
        self._stopping.set()
        if self._client is None and self._startup is not None:
            self._startup.cancel()
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _own_session(self, ready: asyncio.Future[list[mcp_types.Tool]]) -> None:
        import anyio
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp_types import Implementation

        parameters = StdioServerParameters(
            command=self.settings.command, args=self.settings.args, env=self.settings.env or None
        )
        failure: BaseException | None = None
        errlog = self._open_log()
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.settings.startup_timeout) as startup:
                self._startup = startup
                transport = stdio_client(parameters, errlog=errlog)
                client_info = Implementation(name="rosey-assistant", version="0.1")
                async with Client(transport, client_info=client_info) as client:
                    tools = await _list_tools(client)
                    startup.deadline = math.inf
                    self._client = client
                    if not ready.done():
                        ready.set_result(tools)
                    await self._stopping.wait()
            if startup.cancelled_caught and not self._stopping.is_set():
                failure = TimeoutError()
        except Exception as exc:  # noqa: BLE001 - every cause is reported to the person, none crashes the app
            failure = exc
        finally:
            self._client = None
            if self._stopping.is_set() and not ready.done():
                ready.cancel()
            elif not ready.done():
                ready.set_exception(MCPServerError(self._explain(failure)))
            elif failure is not None:
                logger.warning("MCP server %s ended: %s", self.name, _leaf(failure))
            errlog.close()

    def _open_log(self) -> IO[str]:
        if self.log_path is not None:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed by the owner task
                self._log_start = log.tell()
                return log
            except OSError as exc:
                logger.warning("cannot write the log of MCP server %s: %s", self.name, exc)
        self.log_path = None
        return open(os.devnull, "w", encoding="utf-8")

    def _explain(self, failure: BaseException | None) -> str:
        cause = _leaf(failure) if failure is not None else None
        if isinstance(cause, FileNotFoundError):
            reason = f"command not found: {self.settings.command}"
        elif isinstance(cause, PermissionError):
            reason = f"not allowed to run {self.settings.command}"
        elif isinstance(cause, TimeoutError):
            reason = f"no answer within {self.settings.startup_timeout:g} s (raise startup_timeout if it is slow)"
        elif cause is None or _is_connection_closed(cause):
            reason = "it exited before it was ready"
        else:
            reason = f"{type(cause).__name__}: {cause}"
        log = f" (log: {self.log_path})" if self.log_path else ""
        return f"{reason}{self._stderr_tail()}{log}"

    def _stderr_tail(self) -> str:
        """The last lines the server wrote to stderr in this run: usually the reason it failed."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                log.seek(self._log_start)
                lines = [line.strip() for line in log.read().splitlines() if line.strip()]
        except OSError:
            return ""
        return f"; it said: {' | '.join(lines[-_STDERR_TAIL_LINES:])[-300:]}" if lines else ""


def _leaf(error: BaseException) -> BaseException:
    """The first real cause inside the SDK's task-group exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _is_connection_closed(error: BaseException) -> bool:
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    return isinstance(error, MCPError) and error.code == CONNECTION_CLOSED


async def _list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor = None
    for _ in range(_LIST_PAGES_LIMIT):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _tool_result(result: mcp_types.CallToolResult) -> ToolResult:
    """Text blocks joined; other blocks named, since the model here reads text only."""
    from mcp_types import (
        EmbeddedResource,
        ResourceLink,
        TextContent,
        TextResourceContents,
    )

    parts = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, EmbeddedResource) and isinstance(block.resource, TextResourceContents):
            parts.append(block.resource.text)
        elif isinstance(block, ResourceLink):
            parts.append(f"[resource: {block.uri}]")
        else:
            parts.append(f"[{block.type} content, not shown]")
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = pydantic_core.to_json(result.structured_content).decode()
    return ToolResult(text, is_error=result.is_error)


@dataclass
class MCPServers:
    """The servers that started, their tools under the names offered, and what went wrong."""

    tools: list[Tool] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    connections: list[MCPConnection] = field(default_factory=list)

    async def aclose(self) -> None:
        await asyncio.gather(*(connection.stop() for connection in self.connections))


async def start_mcp_servers(
    servers: Sequence[MCPServerSettings], reserved_names: Collection[str], log_dir: Path | None = None
) -> MCPServers:
    """Start every server at once; ``reserved_names`` (the built-ins) are never taken by an MCP tool."""
    started = MCPServers()
    connections: list[MCPConnection] = []
    for settings in servers:
        if any(connection.name == settings.name for connection in connections):
            started.problems.append(
                f"MCP server '{settings.name}' is listed twice in assistant.mcp_servers; only the first is started"
            )
            continue
        log_path = log_dir / f"mcp-{settings.name}.log" if log_dir is not None else None
        connections.append(MCPConnection(settings, log_path))
    outcomes = await asyncio.gather(*(connection.start() for connection in connections), return_exceptions=True)
    listings: dict[MCPConnection, list[mcp_types.Tool]] = {}
    for connection, outcome in zip(connections, outcomes):
        if isinstance(outcome, BaseException):
            problem = f"MCP server '{connection.name}' did not start: {outcome}"
            logger.warning(problem)
            started.problems.append(problem)
        else:
            listings[connection] = outcome
            started.connections.append(connection)
    names = _offered_names(listings, set(reserved_names), started.problems)
    for connection, listed_tools in listings.items():
        for listed in listed_tools:
            if offered := names.get((connection.name, listed.name)):
                started.tools.append(_mcp_tool(connection, listed, offered))
    return started


def _offered_names(
    listings: dict[MCPConnection, list[mcp_types.Tool]], reserved: set[str], problems: list[str]
) -> dict[tuple[str, str], str]:
    """(server, tool) -> the name offered to the model, by the rule in the module docstring."""
    counts = Counter(listed.name for tools in listings.values() for listed in tools)
    names: dict[tuple[str, str], str] = {}
    for connection, tools in listings.items():
        for listed in tools:
            if counts[listed.name] == 1 and listed.name not in reserved and _VALID_TOOL_NAME.fullmatch(listed.name):
                names[(connection.name, listed.name)] = listed.name
    taken = reserved | set(names.values())
    for connection, tools in listings.items():
        for listed in tools:
            if (connection.name, listed.name) in names:
                continue
            offered = _INVALID_NAME_CHARS.sub("_", f"{connection.name}_{listed.name}")[:MAX_TOOL_NAME]
            if offered in taken:
                problems.append(
                    f"MCP server '{connection.name}': tool '{listed.name}' is not offered; "
                    f"its name and '{offered}' are both taken"
                )
                continue
            names[(connection.name, listed.name)] = offered
            taken.add(offered)
    return names


def _mcp_tool(connection: MCPConnection, listed: mcp_types.Tool, offered_name: str) -> Tool:
    schema = {"type": "object", "properties": {}, **listed.input_schema}
    description = listed.description or listed.title or listed.name
    tool_name = listed.name

    async def invoke(arguments: dict[str, Any]) -> ToolResult:
        return await connection.call(tool_name, arguments)

    return Tool(ToolDefinition(offered_name, description, schema), invoke, source=connection.name)
