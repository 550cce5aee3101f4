"""Calling a tool the way the model does: by name, with arguments, through a ToolBox."""

from __future__ import annotations

from assistant.tools import ToolBox, ToolResult
from llm import ToolCall


async def call(box: ToolBox, name: str, **arguments: object) -> ToolResult:
    return await box.run(ToolCall(id="call-1", name=name, arguments=arguments))
