"""Putting a saved conversation back into a live ``ConversationContext``."""

from __future__ import annotations

from llm import ConversationContext, Message, MessageRole, ToolCall

from ._store import ConversationStore

MISSING_RESULT = "No result: the assistant was stopped before this tool finished."


def restore_context(store: ConversationStore, conversation_id: str, context: ConversationContext) -> None:
    """Replay every saved message, in order, into ``context``.

    A kill between a tool call and its result leaves a call with no answer,
    which every backend rejects; such a call gets a result saying it never
    finished, so the resumed conversation can go on. Each message comes back
    whole: a tool call's thinking, which Anthropic needs to see again while
    the call is answered, and whether a tool result was an error.
    """
    unanswered: list[ToolCall] = []
    for stored in store.messages(conversation_id):
        message = stored.message
        if message.role is MessageRole.TOOL:
            unanswered = [call for call in unanswered if call.id != message.tool_call_id]
        else:
            _answer_missing(unanswered, context)
            unanswered = list(message.tool_calls or []) if message.role is MessageRole.ASSISTANT else []
        context.add_message(message)
    _answer_missing(unanswered, context)


def _answer_missing(calls: list[ToolCall], context: ConversationContext) -> None:
    for call in calls:
        context.add_message(
            Message(MessageRole.TOOL, MISSING_RESULT, name=call.name, tool_call_id=call.id, is_error=True)
        )
