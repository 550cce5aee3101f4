"""The brain's interface: one contract over every LLM backend.

    provider = ProviderFactory.create_from_config(config)
    async for event in provider.stream(messages, tools=tools):
        ...  # TextDelta, ReasoningDelta, ToolCallEvent, then one StreamEnd

Provider modules are imported on first use, so ``import llm`` stays fast.
"""

from .base import ChatRequest, LLMProvider
from .context import ConversationContext
from .errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
)
from .factory import ProviderFactory
from .files import FileInjectionError, fenced_code, read_text_file, with_file
from .settings import BackendSettings
from .types import (
    Capabilities,
    CompletionResult,
    Image,
    Message,
    MessageRole,
    ReasoningBlock,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolDefinition,
)
from .written import when_request_written

__all__ = [
    "BackendSettings",
    "Capabilities",
    "ChatRequest",
    "CompletionResult",
    "ConversationContext",
    "FileInjectionError",
    "Image",
    "LLMAuthError",
    "LLMConnectionError",
    "LLMContextLengthError",
    "LLMError",
    "LLMInvalidRequestError",
    "LLMProvider",
    "LLMRateLimitError",
    "LLMResponseError",
    "LLMServerError",
    "LLMTimeoutError",
    "Message",
    "MessageRole",
    "ProviderFactory",
    "ReasoningBlock",
    "ReasoningDelta",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallEvent",
    "ToolDefinition",
    "when_request_written",
    "fenced_code",
    "read_text_file",
    "with_file",
]
