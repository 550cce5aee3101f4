"""The pieces of the chat log and the status bar.

An answer is streamed into Textual's ``Markdown`` by a ``MarkdownFeed`` (it
batches appends so a fast model never outruns the screen); an answer that
ends inside a code fence is finished with one full ``update``, so the fence
never ends blank (a full update of a long answer costs seconds, so only
then). Tool calls split an answer: text before a call, the call
(collapsible), text after.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Collapsible, Label, Markdown, Static

from ..events import ToolFinished, ToolStarted, TurnDone, timing_figures
from .markdown_feed import MarkdownFeed, new_markdown

CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


class ChatEntry(Vertical, can_focus=True):
    """Anything in the log a person may want to copy: focus it and press c."""

    BINDINGS = [Binding("c", "copy", "Copy message")]

    DEFAULT_CSS = """
    ChatEntry { height: auto; margin: 0 0 1 0; padding: 0 1; }
    ChatEntry:focus { background: $boost; }
    ChatEntry > .speaker { text-style: bold; }
    """

    def copy_text(self) -> str:
        raise NotImplementedError

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.copy_text())
        self.app.notify("Copied to the clipboard", timeout=2)


class UserMessage(ChatEntry):
    DEFAULT_CSS = """
    UserMessage { border-left: thick $accent; }
    UserMessage > .speaker { color: $accent; }
    """

    def __init__(self, text: str, attachments: list[str] | None = None) -> None:
        super().__init__()
        self.text = text
        self.attachments = attachments or []

    def compose(self) -> ComposeResult:
        yield Label("You", classes="speaker")
        for name in self.attachments:
            yield Label(f"📎 {name}", classes="attachment")
        yield Static(self.text, markup=False)

    def copy_text(self) -> str:
        return self.text


class ToolCallEntry(Collapsible):
    """One tool call: name and source in the title, arguments and result inside."""

    DEFAULT_CSS = """
    ToolCallEntry { height: auto; margin: 0; padding: 0; border: none; background: $surface; }
    ToolCallEntry.error CollapsibleTitle { color: $error; }
    """

    def __init__(self, started: ToolStarted) -> None:
        self.call = started.call
        self.source = started.source
        arguments = json.dumps(started.call.arguments, ensure_ascii=False, indent=2)
        self.details = Static(f"arguments:\n{arguments}\n\nrunning…", markup=False)
        super().__init__(self.details, title=self._heading("running"), collapsed=True)

    def _heading(self, state: str) -> str:
        source = f" ({self.source})" if self.source else ""
        return f"🔧 {self.call.name}{source} — {state}"

    def finish(self, finished: ToolFinished) -> None:
        self.show_result(finished.result.content, finished.result.is_error, finished.seconds)

    def show_result(self, content: str, is_error: bool = False, seconds: float | None = None) -> None:
        arguments = json.dumps(self.call.arguments, ensure_ascii=False, indent=2)
        label = "error" if is_error else "result"
        self.details.update(f"arguments:\n{arguments}\n\n{label}:\n{content}")
        self.title = self._heading(f"{label} in {seconds:.2f} s" if seconds is not None else label)
        self.set_class(is_error, "error")


class AssistantMessage(ChatEntry):
    """One answer: streamed Markdown, folded thinking, tool calls, and its figures once finished.

    ``finished`` turns true once its text is complete and its figures or note
    are shown: what a person waiting for the answer waits for (the app looking
    idle is no sign of it, as it is idle before a turn too).
    """

    DEFAULT_CSS = """
    AssistantMessage { border-left: thick $success; }
    AssistantMessage > .speaker { color: $success; }
    AssistantMessage Markdown { margin: 0; padding: 0; background: transparent; }
    AssistantMessage .reasoning { color: $text-muted; }
    AssistantMessage #thinking { display: none; }
    AssistantMessage.has-reasoning #thinking { display: block; }
    AssistantMessage .figures { color: $text-muted; }
    """

    def __init__(self, speaker: str = "Rosey") -> None:
        super().__init__()
        self.speaker = speaker
        self.blocks: list[str] = []
        self._block_parts: list[str] = []
        self._markdown: Markdown | None = None
        self._feed: MarkdownFeed | None = None
        self._reasoning: list[str] = []
        self._reasoning_view = Static("", markup=False, classes="reasoning")
        self.thinking = Collapsible(self._reasoning_view, title="Thinking", collapsed=True, id="thinking")
        self.finished = False

    def compose(self) -> ComposeResult:
        yield Label(self.speaker, classes="speaker")
        yield self.thinking

    @property
    def text(self) -> str:
        return "".join(self.blocks) + "".join(self._block_parts)

    def copy_text(self) -> str:
        return self.text

    def last_code_block(self) -> str | None:
        blocks = CODE_BLOCK.findall(self.text)
        return blocks[-1].rstrip("\n") if blocks else None

    async def append(self, text: str) -> None:
        if self._markdown is None:
            self._markdown = new_markdown()
            await self.mount(self._markdown)
            self._feed = MarkdownFeed(self._markdown)
        self._block_parts.append(text)
        assert self._feed is not None
        self._feed.write(text)

    def add_reasoning(self, text: str) -> None:
        self._reasoning.append(text)
        self.add_class("has-reasoning")
        self._reasoning_view.update("".join(self._reasoning))

    async def tool_started(self, started: ToolStarted) -> ToolCallEntry:
        await self._finish_block()
        entry = ToolCallEntry(started)
        await self.mount(entry)
        return entry

    async def finish(self, done: TurnDone | None = None, note: str | None = None) -> None:
        """End the answer: one full render of the last block, then its figures or a note."""
        await self._finish_block()
        if done is not None:
            await self.add_note(" · ".join([done.model, *answer_figures(done)]))
        if note:
            await self.add_note(note)
        self.finished = True

    async def add_note(self, note: str) -> None:
        await self.mount(Label(note, classes="figures", markup=False))

    async def _finish_block(self) -> None:
        if self._markdown is None:
            return
        assert self._feed is not None
        await self._feed.close()
        block = "".join(self._block_parts)
        if block.count("```") % 2:
            await self._markdown.update(block)  # ended inside a code fence: one full render, so it never ends blank
        self.blocks.append(block)
        self._block_parts.clear()
        self._markdown = self._feed = None


class ErrorNote(ChatEntry):
    DEFAULT_CSS = """
    ErrorNote { border-left: thick $error; color: $error; }
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(f"⚠ {self.message}", markup=False)

    def copy_text(self) -> str:
        return self.message


class Notice(ChatEntry):
    DEFAULT_CSS = """
    Notice { color: $text-muted; }
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(self.message, markup=False)

    def copy_text(self) -> str:
        return self.message


def answer_figures(done: TurnDone) -> list[str]:
    """How fast the answer came and what it cost, as the answer's last line and the status bar both show it."""
    return [*timing_figures(done.time_to_first_token, done.tokens_per_second),
            f"{done.prompt_tokens}+{done.completion_tokens} tokens"]


@dataclass(frozen=True, slots=True)
class Status:
    """What the status bar shows; frozen, so a change is a new value and the bar always sees it."""

    backend: str = ""
    model: str = ""
    persona: str = "default"
    state: str = "idle"
    last: TurnDone | None = None


class StatusBar(Static):
    """Backend and model, what the assistant is doing, and the last answer's figures."""

    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $panel; color: $text; }
    """

    status: reactive[Status] = reactive(Status, always_update=True)

    def watch_status(self, status: Status) -> None:
        parts = [f"{status.backend}: {status.model}", f"persona {status.persona}", f"● {status.state}"]
        if status.last is not None:
            parts += answer_figures(status.last)
        self.update(" · ".join(parts))
