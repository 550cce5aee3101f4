"""A small real MCP server for the tests, written with the official SDK, speaking stdio.

Run as ``python mcp_example_server.py``. Its tools cover what the assistant must
handle: a typed tool, one that fails on purpose, one whose name clashes with a
built-in, and two that let a test see the process itself (its pid, a crash).

FastMCP of mcp 1.x is ``MCPServer`` in mcp 2.x.
"""

from __future__ import annotations

import os
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

server = MCPServer("example")


@server.tool()
def add(
    a: Annotated[int, Field(description="the first number")],
    b: Annotated[int, Field(description="the second number")],
) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the given reason."""
    raise ToolError(f"failed on purpose: {reason}")


@server.tool()
def calculator(expression: str) -> str:
    """A calculator that clashes with the assistant's built-in one."""
    return f"example server was asked {expression}"


@server.tool()
def pid() -> int:
    """The process id of this server."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """End the server process at once, as a crash would."""
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
