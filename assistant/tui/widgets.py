"""The pieces of the chat log and the status bar.

An answer's text is drawn by a ``StreamingMarkdown`` (see ``markdown_feed``:
its cost per update does not grow with the answer). Tool calls split an
answer: text before a call, the call (collapsible), text after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Collapsible, Label, Static

from llm import Message

from ..events import ToolFinished, ToolStarted, TurnDone, timing_figures
from .markdown_feed import StreamingMarkdown

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

    def replica(self) -> Callable[[], ChatEntry]:
        """How to draw this entry again once it is removed: a function of plain data, holding no widget.

        The log folds entries far above the view away like this; kept as hidden
        widgets, hundreds of them still slowed every layout and garbage collection.
        """
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

    def replica(self) -> Callable[[], UserMessage]:
        text, attachments = self.text, self.attachments
        return lambda: UserMessage(text, attachments)


class ToolCallEntry(Collapsible):
    """One tool call: name and source in the title, arguments and result inside."""

    DEFAULT_CSS = """
    ToolCallEntry { height: auto; margin: 0; padding: 0; border: none; background: $surface; }
    ToolCallEntry.error CollapsibleTitle { color: $error; }
    """

    def __init__(self, started: ToolStarted, saved: Message | None = None) -> None:
        """A call running, or with the tool's ``saved`` result one of a saved conversation, shown finished."""
        self.call = started.call
        self.source = started.source
        self.details = Static(self._arguments() + "\n\nrunning…", markup=False)
        self._result: tuple[str, bool, str] | None = None
        super().__init__(self.details, title=self._heading("running"), collapsed=True)
        if saved is not None:
            self._show_result(saved.content, saved.is_error, self._heading("error" if saved.is_error else "result"))

    def _arguments(self) -> str:
        return "arguments:\n" + json.dumps(self.call.arguments, ensure_ascii=False, indent=2)

    def _heading(self, state: str) -> str:
        source = f" ({self.source})" if self.source else ""
        return f"🔧 {self.call.name}{source} — {state}"

    def finish(self, finished: ToolFinished) -> None:
        label = "error" if finished.result.is_error else "result"
        self._show_result(finished.result.content, finished.result.is_error,
                          self._heading(f"{label} in {finished.seconds:.2f} s"))

    def _show_result(self, content: str, is_error: bool, heading: str) -> None:
        self._result = (content, is_error, heading)
        self.details.update(f"{self._arguments()}\n\n{'error' if is_error else 'result'}:\n{content}")
        self.title = heading
        self.set_class(is_error, "error")

    def replica(self) -> Callable[[], ToolCallEntry]:
        """See ``ChatEntry.replica``."""
        started, result = ToolStarted(self.call, self.source), self._result

        def draw() -> ToolCallEntry:
            entry = ToolCallEntry(started)
            if result is not None:
                entry._show_result(*result)
            return entry

        return draw


class AssistantMessage(ChatEntry):
    """One answer: streamed Markdown, folded thinking, tool calls, and its figures once finished.

    ``finished`` turns true once its text is complete and its figures or note
    are shown: what a person waiting for the answer waits for (the app looking
    idle is no sign of it, as it is idle before a turn too).
    """

    DEFAULT_CSS = """
    AssistantMessage { border-left: thick $success; }
    AssistantMessage > .speaker { color: $success; }
    AssistantMessage StreamingMarkdown { margin: 0; padding: 0; }
    AssistantMessage .reasoning { color: $text-muted; }
    AssistantMessage .figures { color: $text-muted; }
    """

    def __init__(
        self,
        speaker: str = "Rosey",
        saved: Sequence[str | ToolCallEntry] | None = None,
        notes: Sequence[str] = (),
        reasoning: str = "",
    ) -> None:
        """An answer to stream into, or a finished one drawn again: its ``saved`` runs of text and tool calls.

        A saved answer is whole before it is mounted, so a batch of them costs
        one layout of the log; ``notes`` (its figures) and ``reasoning`` come with it.
        """
        super().__init__()
        self.speaker = speaker
        self._saved = saved or []
        self.blocks: list[str] = [part for part in self._saved if isinstance(part, str)]
        self._block_parts: list[str] = []
        self._markdown: StreamingMarkdown | None = None
        self._notes = list(notes)
        self._reasoning: list[str] = [reasoning] if reasoning else []
        self._reasoning_view = Static(reasoning, markup=False, classes="reasoning")
        self.thinking: Collapsible | None = self._thinking_fold() if reasoning else None  # most answers have none
        self.finished = saved is not None

    def compose(self) -> ComposeResult:
        yield Label(self.speaker, classes="speaker")
        if self.thinking is not None:
            yield self.thinking
        for part in self._saved:
            yield StreamingMarkdown.finished(part) if isinstance(part, str) else part
        for note in self._notes:
            yield Label(note, classes="figures", markup=False)

    def replica(self) -> Callable[[], AssistantMessage]:
        texts = iter([*self.blocks, "".join(self._block_parts)])
        parts = [
            next(texts) if isinstance(child, StreamingMarkdown) else child.replica()
            for child in self.children
            if isinstance(child, StreamingMarkdown | ToolCallEntry)
        ]
        speaker, notes, reasoning = self.speaker, self._notes, "".join(self._reasoning)
        return lambda: AssistantMessage(
            speaker, [part if isinstance(part, str) else part() for part in parts], notes, reasoning
        )

    def _thinking_fold(self) -> Collapsible:
        return Collapsible(self._reasoning_view, title="Thinking", collapsed=True, id="thinking")

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
            self._markdown = StreamingMarkdown()
            await self.mount(self._markdown)
        self._block_parts.append(text)
        self._markdown.write(text)

    def add_reasoning(self, text: str) -> None:
        self._reasoning.append(text)
        self._reasoning_view.update("".join(self._reasoning))
        if self.thinking is None:
            self.thinking = self._thinking_fold()
            self.mount(self.thinking, after=self.query_one(".speaker"))

    async def tool_started(self, started: ToolStarted) -> ToolCallEntry:
        await self._finish_block()
        entry = ToolCallEntry(started)
        await self.mount(entry)
        return entry

    async def finish(self, done: TurnDone | None = None, note: str | None = None) -> None:
        """End the answer: all its text drawn, then its figures or a note."""
        await self._finish_block()
        if done is not None:
            self.add_note(" · ".join([done.model, *answer_figures(done)]))
        if note:
            self.add_note(note)
        self.finished = True

    def add_note(self, note: str) -> None:
        """A line under the answer. Not waiting for it to be mounted (up to a frame): the app says it is idle
        as soon as the answer ends, so the frame showing the end also shows the app ready."""
        self._notes.append(note)
        self.mount(Label(note, classes="figures", markup=False))

    async def _finish_block(self) -> None:
        if self._markdown is None:
            return
        await self._markdown.close()
        self.blocks.append("".join(self._block_parts))
        self._block_parts.clear()
        self._markdown = None


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

    def replica(self) -> Callable[[], ErrorNote]:
        message = self.message
        return lambda: ErrorNote(message)


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

    def replica(self) -> Callable[[], Notice]:
        message = self.message
        return lambda: Notice(message)


class SpeechSoFar(Static):
    """What the person has said so far, while they speak; their message replaces it when the turn ends."""

    DEFAULT_CSS = """
    SpeechSoFar { color: $text-muted; text-style: italic; border-left: thick $accent 50%; padding: 0 1; margin: 0 0 1 0; }
    """

    def __init__(self, text: str) -> None:
        super().__init__(self.line(text), markup=False)

    @staticmethod
    def line(text: str) -> str:
        return f"🎤 {text} …"


def answer_figures(done: TurnDone) -> list[str]:
    """How fast the answer came and what it cost, as the answer's last line and the status bar both show it."""
    return [*timing_figures(done.time_to_first_token, done.tokens_per_second),
            f"{done.prompt_tokens}+{done.completion_tokens} tokens"]


MODEL_NAME_AT_LEAST = 10  # cells of the model's name the status bar keeps, however narrow


def short_model_name(model: str) -> str:
    """A model given as a file (a GGUF path) by its file's stem, so the figures after it still fit."""
    path = PurePath(model)
    return path.stem if model.lower().endswith(".gguf") or path.is_absolute() else model


@dataclass(frozen=True, slots=True)
class Status:
    """What the status bar shows; frozen, so a change is a new value and the bar always sees it."""

    backend: str = ""
    model: str = ""
    persona: str = "default"
    state: str = "idle"
    last: TurnDone | None = None


class StatusBar(Widget):
    """Backend and model, what the assistant is doing, and the last answer's figures.

    Its size never depends on its text, so a change repaints the bar alone: a ``Static``'s
    ``update`` asks for a layout of the whole screen, which with a long answer on it cost
    10 ms of the frame that shows the answer finished.
    """

    DEFAULT_CSS = """
    StatusBar { height: 1; width: 1fr; padding: 0 1; background: $panel; color: $text; }
    """

    status: reactive[Status] = reactive(Status, always_update=True)

    def render(self) -> Content:
        return Content(self.line(self.content_size.width))

    def line(self, width: int) -> str:
        """The bar's text for ``width`` cells: when it does not fit, the model's name gives way first, then the persona.

        The state and the figures are what a person glances at the bar for, so they are never the part cut.
        """
        status = self.status
        model = short_model_name(status.model)
        figures = answer_figures(status.last) if status.last is not None else []
        for persona in ([f"persona {status.persona}"], []):
            parts = [f"{status.backend}: {model}", *persona, f"● {status.state}", *figures]
            spare = width - len(" · ".join(parts)) if width else 0
            if spare >= 0:
                return " · ".join(parts)
            if len(model) + spare >= MODEL_NAME_AT_LEAST:
                parts[0] = f"{status.backend}: {model[:len(model) + spare - 1]}…"
                return " · ".join(parts)
        parts[0] = f"{status.backend}: {model[:MODEL_NAME_AT_LEAST - 1]}…"
        return " · ".join(parts)
