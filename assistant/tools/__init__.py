"""Tools the model can call: the built-ins, the tools of MCP servers, and the box that runs them.

    toolbox = await build_toolbox(config.assistant.tools, config.assistant.mcp_servers, config.data_dir)
    result = await toolbox.run(call)     # never raises: failures are results the model can read
    await toolbox.aclose()               # stops the MCP servers

``_core`` defines what a tool is (``Tool``, ``tool``, ``ToolBox``, ``ToolResult``);
``builtin`` the clock, calculator, notes and ``read_file``; ``mcp`` the tools of
Model Context Protocol servers; ``settings`` their config sections. Only this
module knows every part.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._core import BUILT_IN, UNKNOWN_SOURCE, InvalidArguments, Tool, ToolBox, ToolError, ToolResult, tool
from .builtin import builtin_tools
from .mcp import start_mcp_servers
from .settings import MCPServerSettings, ToolSettings

__all__ = [
    "BUILT_IN", "UNKNOWN_SOURCE", "InvalidArguments", "MCPServerSettings", "Tool", "ToolBox", "ToolError",
    "ToolResult", "ToolSettings", "build_toolbox", "builtin_tools", "tool",
]


async def build_toolbox(
    settings: ToolSettings, mcp_servers: Sequence[MCPServerSettings], data_dir: Path
) -> ToolBox:
    """The built-ins enabled in ``settings`` and the tools of every MCP server that starts.

    A server that fails to start, or a ``read_file_dirs`` entry that is not a folder,
    becomes a line of ``problems``; everything else keeps working.
    """
    tools = builtin_tools(settings, data_dir)
    problems = [
        f"assistant.tools.read_file_dirs: {folder} is not a folder; read_file cannot read anything there"
        for folder in settings.read_file_dirs
        if settings.read_file and not folder.is_dir()
    ]
    on_close = None
    if mcp_servers:
        servers = await start_mcp_servers(mcp_servers, {item.name for item in tools}, data_dir / "logs")
        tools += servers.tools
        problems += servers.problems
        on_close = servers.aclose
    return ToolBox(
        tools,
        timeout=settings.timeout,
        max_result_chars=settings.max_result_chars,
        problems=problems,
        on_close=on_close,
    )
