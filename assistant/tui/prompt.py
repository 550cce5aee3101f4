"""The prompt: a multi-line input where Enter sends and Up/Down walk the history.

A ``TextArea`` rather than an ``Input`` so pasted text keeps its lines. Up and
Down move through earlier messages only from the first or last line, so
editing a multi-line message still works as expected.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: round $accent;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("ctrl+j,alt+enter", "newline", "New line", show=False),
        # A prompt of a few lines has no pages to turn: PageUp and PageDown read the conversation.
        Binding("pageup", "app.page_log(-1)", "Read above", show=False),
        Binding("pagedown", "app.page_log(1)", "Read below", show=False),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, **kwargs)
        self.sent: list[str] = []
        self._browsing: int | None = None
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
        elif event.key == "up" and self.cursor_location[0] == 0 and self.sent:
            event.stop()
            event.prevent_default()
            self._browse(-1)
        elif event.key == "down" and self.cursor_location[0] == self.document.line_count - 1 and self._browsing is not None:
            event.stop()
            event.prevent_default()
            self._browse(+1)
        else:
            await super()._on_key(event)

    def action_newline(self) -> None:
        self.insert("\n")

    def _submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._browsing = None
        self.clear()
        self.post_message(self.Submitted(text))

    def _browse(self, step: int) -> None:
        if self._browsing is None:
            self._draft = self.text
            self._browsing = len(self.sent)
        self._browsing = max(0, self._browsing + step)
        if self._browsing >= len(self.sent):
            self._browsing = None
            self.load_text(self._draft)
        else:
            self.load_text(self.sent[self._browsing])
        self.move_cursor(self.document.end)
