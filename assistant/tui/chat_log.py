"""The chat log: the scrolling column of messages, notices and answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual import events
from textual.containers import VerticalScroll

from llm import Message, MessageRole

from ..events import ToolStarted
from .markdown_feed import StreamingMarkdown
from .messages import StatusChanged, TypedOnEntry
from .turn_view import TurnView
from .widgets import AssistantMessage, ChatEntry, ErrorNote, Notice, ToolCallEntry, UserMessage


class ChatLog(VerticalScroll):
    """Owns what the log shows; the app and its helpers add to it only through these methods.

    It is also the widget the helpers post their messages on (see
    ``messages``), so it is the one thing of the screen they are given.
    """

    DEFAULT_CSS = """
    ChatLog { height: 1fr; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.call_after_refresh(self._park_far_chunks)  # once the scroll has moved the chunks

    def _park_far_chunks(self) -> None:
        for text in self.query(StreamingMarkdown):
            text.park_far_chunks(self.region)

    def on_key(self, event: events.Key) -> None:
        """Typing on a focused message types into the prompt (``c``, the message's copy key, aside)."""
        if isinstance(self.screen.focused, ChatEntry) and event.is_printable and event.character != "c":
            event.stop()
            self.post_message(TypedOnEntry(event.character or ""))

    async def show_notice(self, message: str) -> None:
        await self.mount(Notice(message))

    async def show_error(self, message: str) -> None:
        await self.mount(ErrorNote(message))

    async def show_user_message(self, text: str, attachments: list[str] | None = None) -> None:
        await self.mount(UserMessage(text, attachments))

    async def start_answer(self) -> TurnView:
        """An empty answer at the bottom, for a turn's events; the assistant is thinking from here on."""
        answer = AssistantMessage()
        await self.mount(answer)
        self.post_message(StatusChanged(state="thinking"))
        return TurnView(self, answer)

    async def show_conversation(self, messages: Iterable[Message], tool_source: Callable[[str], str]) -> None:
        """Replace the log with a saved conversation, drawn as it looked when it was written."""
        await self.remove_children()
        answer: AssistantMessage | None = None
        tool_entries: dict[str, ToolCallEntry] = {}
        for message in messages:
            if message.role is MessageRole.USER:
                answer = None
                await self.show_user_message(message.content)
            elif message.role is MessageRole.ASSISTANT:
                if answer is None:
                    answer = AssistantMessage()
                    await self.mount(answer)
                if message.content:
                    await answer.append(message.content)
                for call in message.tool_calls or []:
                    tool_entries[call.id] = await answer.tool_started(ToolStarted(call, tool_source(call.name)))
            elif message.role is MessageRole.TOOL and message.tool_call_id in tool_entries:
                tool_entries[message.tool_call_id].show_result(message.content)
        for answer in self.query(AssistantMessage):
            await answer.finish()

    async def start_over(self) -> None:
        """An empty log, for a new conversation."""
        await self.remove_children()

    def last_answer(self) -> AssistantMessage | None:
        answers = self.query(AssistantMessage)
        return answers.last() if answers else None

    def toggle_reasoning(self) -> None:
        for answer in self.query(AssistantMessage):
            answer.thinking.collapsed = not answer.thinking.collapsed

    def copy_last_answer(self) -> None:
        answer = self.last_answer()
        if answer is None or not answer.text:
            self.notify("There is no answer to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(answer.text)
        self.notify("Answer copied to the clipboard", timeout=2)

    async def copy_last_code(self) -> None:
        answer = self.last_answer()
        code = answer.last_code_block() if answer else None
        if code is None:
            await self.show_error("the last answer has no code block")
            return
        self.app.copy_to_clipboard(code)
        self.notify("Code copied to the clipboard", timeout=2)
