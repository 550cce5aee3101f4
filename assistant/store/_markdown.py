"""A saved conversation as a Markdown document a person can read or share."""

from __future__ import annotations

import json
from collections.abc import Sequence

from llm import MessageRole, ToolCall, fenced_code

from ..events import timing_figures
from ..orchestrator import INTERRUPTED_MARK
from ._records import ConversationSummary, StoredMessage

ASSISTANT_NAME = "Rosey"


def conversation_markdown(summary: ConversationSummary, messages: Sequence[StoredMessage]) -> str:
    started = summary.created_at.strftime("%Y-%m-%d %H:%M UTC")
    header = f"*{started}*" + (f" · persona: {summary.persona}" if summary.persona else "")
    blocks = [f"# {_one_line(summary.display_title)}", header]
    tool_names: dict[str, str] = {}
    for stored in messages:
        blocks.extend(_message_blocks(stored, tool_names))
    return "\n\n".join(blocks) + "\n"


def _message_blocks(stored: StoredMessage, tool_names: dict[str, str]) -> list[str]:
    message = stored.message
    if message.role is MessageRole.SYSTEM:
        return ["**System prompt**", _quote(message.content)]
    if message.role is MessageRole.TOOL:
        name = message.name or tool_names.get(message.tool_call_id or "", "tool")
        label = "Error from" if message.is_error else "Result of"
        return [f"{label} `{name}`:", fenced_code(message.content)]
    if message.role is MessageRole.USER:
        blocks = ["**You**"]
    else:
        blocks = [f"**{ASSISTANT_NAME}**" + _byline(stored)]
    content = message.content.removesuffix(INTERRUPTED_MARK) if stored.interrupted else message.content
    if content:
        blocks.append(content)  # an interrupted turn is marked once, below
    if message.images:
        kinds = ", ".join(image.media_type for image in message.images)
        count = len(message.images)
        blocks.append(f"*({count} image{'s' if count > 1 else ''} attached: {kinds})*")
    for call in message.tool_calls or []:
        tool_names[call.id] = call.name
        blocks.extend([f"Tool call `{call.name}`:", fenced_code(_call_json(call), "json")])
    if stored.interrupted:
        blocks.append("*(interrupted)*")
    return blocks


def _byline(stored: StoredMessage) -> str:
    parts = ["/".join(part for part in (stored.backend, stored.model) if part)]
    if stored.timings is not None:
        parts.extend(timing_figures(stored.timings.time_to_first_token, stored.timings.tokens_per_second))
    parts = [part for part in parts if part]
    return f" ({', '.join(parts)})" if parts else ""


def _call_json(call: ToolCall) -> str:
    return json.dumps({"id": call.id, "name": call.name, "arguments": call.arguments}, indent=2, ensure_ascii=False)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def _one_line(text: str) -> str:
    return " ".join(text.split())
