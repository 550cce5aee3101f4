"""The running conversation, pruned by whole turns.

A turn starts at a user message and holds everything up to the next one:
the answer, its tool calls and their results. Pruning drops whole turns from
the front, so the system message stays and a tool call is never separated
from its result (backends reject a result whose call is gone).
"""

from __future__ import annotations

from collections.abc import Sequence

from .types import Image, Message, MessageRole, ReasoningBlock, ToolCall


class ConversationContext:
    """The messages a backend is shown: one system message, then whole turns, at most ``max_turns`` of them.

    It owns the order and pruning of messages and nothing else: it never talks to a
    backend and never saves anything (listeners of the orchestrator do).
    """

    def __init__(self, max_turns: int = 10, system_message: str | None = None) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.max_turns = max_turns
        self.system_message = system_message
        self._turns: list[list[Message]] = []

    def __len__(self) -> int:
        return sum(len(turn) for turn in self._turns)

    @property
    def turn_count(self) -> int:
        return len(self._turns)

    def add_user_message(self, content: str, images: Sequence[Image] | None = None) -> Message:
        message = Message(MessageRole.USER, content, images=list(images) if images else None)
        self._turns.append([message])
        self._prune()
        return message

    def add_assistant_message(
        self,
        content: str,
        tool_calls: Sequence[ToolCall] | None = None,
        reasoning_blocks: Sequence[ReasoningBlock] | None = None,
    ) -> Message:
        """Record an answer; ``reasoning_blocks`` keeps the thinking a backend must see again with its tool calls."""
        message = Message(
            MessageRole.ASSISTANT,
            content,
            tool_calls=list(tool_calls) if tool_calls else None,
            reasoning_blocks=list(reasoning_blocks) if reasoning_blocks else None,
        )
        self._current_turn().append(message)
        return message

    def add_tool_result(
        self, tool_call_id: str, content: str, name: str | None = None, is_error: bool = False
    ) -> Message:
        """Record a tool's answer; ``is_error`` tells the model the tool failed rather than answered."""
        message = Message(MessageRole.TOOL, content, name=name, tool_call_id=tool_call_id, is_error=is_error)
        self._current_turn().append(message)
        return message

    def add_message(self, message: Message) -> None:
        """Append any message, e.g. when restoring a saved conversation."""
        if message.role is MessageRole.SYSTEM:
            self.system_message = message.content
        elif message.role is MessageRole.USER:
            self._turns.append([message])
            self._prune()
        else:
            self._current_turn().append(message)

    def fork(self) -> ConversationContext:
        """A copy that can grow apart: an answer tried out on it leaves this one untouched.

        The messages themselves are shared, so the fork costs a list per turn.
        """
        fork = ConversationContext(self.max_turns, self.system_message)
        fork._turns = [list(turn) for turn in self._turns]
        return fork

    def get_messages(self) -> list[Message]:
        messages = [Message(MessageRole.SYSTEM, self.system_message)] if self.system_message else []
        for turn in self._turns:
            messages.extend(turn)
        return messages

    def drop_oldest_turn(self) -> bool:
        """Forget the oldest turn, e.g. after the backend said the context is too long.

        Returns False when only the current turn is left, so there is nothing to drop.
        """
        if len(self._turns) <= 1:
            return False
        del self._turns[0]
        return True

    def clear(self) -> None:
        """Forget every turn; the system message stays."""
        self._turns.clear()

    def _current_turn(self) -> list[Message]:
        if not self._turns:
            self._turns.append([])
        return self._turns[-1]

    def _prune(self) -> None:
        excess = len(self._turns) - self.max_turns
        if excess > 0:
            del self._turns[:excess]
