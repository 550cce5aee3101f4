"""The data that crosses the provider boundary: messages, tools, results, stream events.

Plain dataclasses rather than pydantic models: a stream creates one event per
token, and these must cost next to nothing to build.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Union


class MessageRole(str, Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True, slots=True)
class Image:
    """An image attached to a user message, for vision models."""

    data: bytes
    media_type: str

    @classmethod
    def from_bytes(cls, data: bytes) -> "Image":
        for signature, media_type in _IMAGE_SIGNATURES:
            if data.startswith(signature):
                return cls(data=data, media_type=media_type)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return cls(data=data, media_type="image/webp")
        raise ValueError("not a PNG, JPEG, GIF or WebP image")

    @classmethod
    def from_path(cls, path: str | Path) -> "Image":
        path = Path(path)
        try:
            return cls.from_bytes(path.read_bytes())
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64}"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A request from the model to run one tool."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """One block of a model's thinking, kept to be sent back exactly as it came.

    Anthropic refuses a tool-calling answer replayed without the thinking that
    led to it, and checks each block against its ``signature``: the text must
    not change by a byte. A *redacted* block's thinking was encrypted by the
    backend; only ``redacted_data`` travels, and there is nothing to show.
    """

    text: str = ""
    signature: str = ""
    redacted_data: str | None = None

    @property
    def is_redacted(self) -> bool:
        return self.redacted_data is not None


@dataclass(slots=True)
class Message:
    """One message of a conversation.

    ``reasoning_blocks`` is the thinking behind an assistant's answer, for the
    backends that need it back (Anthropic, during a tool call); others ignore
    it. ``is_error`` marks a tool result that reports a failure.
    """

    role: MessageRole
    content: str
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] | None = None
    images: list[Image] | None = None
    reasoning_blocks: list[ReasoningBlock] | None = None
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool offered to the model; ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(slots=True)
class CompletionResult:
    content: str
    model: str
    tokens_used: int = 0
    finish_reason: str = "stop"
    tool_calls: list[ToolCall] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning: str = ""
    reasoning_blocks: list[ReasoningBlock] | None = None
    """The thinking as blocks to send back with the answer (``reasoning`` is their text, for showing)."""

    @property
    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do, so callers offer only what will work."""

    tools: bool = False
    vision: bool = False
    embeddings: bool = False


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of a reasoning model's thinking: shown apart, never spoken, not the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """One tool call, emitted once its arguments are complete."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of every stream: the whole result, usage included."""

    result: CompletionResult


StreamEvent = Union[TextDelta, ReasoningDelta, ToolCallEvent, StreamEnd]
