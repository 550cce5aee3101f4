"""An answer's Markdown, streamed at any speed for the cost of its open end.

Textual's ``Markdown`` widget makes a widget of every block (every list item
and table cell), and creating and laying out a widget costs a few milliseconds
here: a fast model's answer outruns it. So an answer is drawn by Rich's
Markdown renderer into plain ``Static`` widgets, one per chunk of many blocks.
A ``StreamingMarkdown`` previews the open end (the last two blocks, which may
still change what they are) and redraws only it, at most
``FLUSHES_PER_SECOND`` times a second whatever the model's speed; the blocks
before it are sealed into a ``SealedChunk``, drawn once and then kept by
Textual as lines. The cost of an update does not grow with the answer.

The blank lines Rich puts between two blocks depend on both, so each chunk is
drawn after the last block of the chunk before it (see ``AnswerMarkdown``):
the streamed answer looks exactly like ``AnswerMarkdown`` of the whole text.
"""

from __future__ import annotations

import asyncio
import contextlib

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

FLUSHES_PER_SECOND = 30
SEAL_AFTER_LINES = 8  # fewer, and the seals would cost more than the redraws of the open end they save


def _keep_line_breaks(state: StateCore) -> None:
    """A single line break is a line break: models mean theirs, where Markdown would join the lines."""
    for token in state.tokens:
        for child in token.children or []:
            if child.type == "softbreak":
                child.type = "hardbreak"


_PARSER = MarkdownIt("gfm-like")
_PARSER.core.ruler.push("keep_line_breaks", _keep_line_breaks)


class _Markdown(RichMarkdown):
    """Rich's Markdown over the parser that keeps single line breaks.

    Rich's own ``__init__`` is skipped: it builds a parser per call (2 ms
    here, more than drawing a short paragraph); the attributes it sets are
    set here with its defaults.
    """

    def __init__(self, source: str) -> None:
        self.markup = source
        self.parsed = _PARSER.parse(source)
        self.code_theme = "monokai"
        self.justify = None
        self.style = "none"
        self.hyperlinks = True
        self.inline_code_lexer = None
        self.inline_code_theme = "monokai"


class AnswerMarkdown:
    """How an answer's Markdown is drawn: Rich's renderer, which draws one block after another.

    Drawn as part of a longer answer, ``source`` comes ``after`` that answer's
    block before it, which decides the blank lines between the two: the
    lines are those of both, less those of ``after`` alone. The lines are
    kept for the last width drawn at: Textual draws a widget once to measure
    its height and again to show it.
    """

    def __init__(self, source: str, after: str = "") -> None:
        self.source = source
        self.after = after
        self._drawn: tuple[object, list[list[Segment]]] | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        drawn_for = (options.max_width, console.color_system)
        if self._drawn is None or self._drawn[0] != drawn_for:
            self._drawn = drawn_for, self._draw(console, options.update(height=None))
        for line in self._drawn[1]:
            yield from line

    def _draw(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        lines = console.render_lines(_Markdown(self.after + self.source), options, pad=False, new_lines=True)
        return lines[len(console.render_lines(_Markdown(self.after), options, pad=False)) if self.after else 0:]


def seal_point(source: str) -> tuple[int, int] | None:
    """Where ``source``'s finished blocks that may be sealed end, as (first line of the last, line after it), or None.

    The last two blocks stay open: the last may still change what it is (a
    line becomes a table or a heading), and the one before it may be turned
    by it (a table's header row is a paragraph until its rule arrives).
    """
    starts = [token.map[0] for token in _PARSER.parse(source) if token.level == 0 and token.nesting >= 0 and token.map]
    return (starts[-3], starts[-2]) if len(starts) >= 3 else None


class SealedChunk(Static):
    """Finished blocks of an answer in one widget, drawn once for each width they are shown at."""

    def __init__(self, source: str, after: str = "") -> None:
        super().__init__(AnswerMarkdown(source, after))
        self.source = source


class StreamingMarkdown(Widget):
    """One run of an answer's text: sealed chunks, then the open end the stream writes into.

    ``write`` never waits; what arrived is drawn in the background, batched to
    the frame rate. ``shown`` is how much of the text is on screen.
    """

    DEFAULT_CSS = """
    StreamingMarkdown { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.open_end = Static("", classes="open-end")
        self.shown = 0
        self._open = ""
        self._last_sealed_block = ""
        self._queued: list[str] = []
        self._sealed_chars = 0
        self._draw_wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._drawer: asyncio.Task[None] | None = None

    def compose(self) -> ComposeResult:
        yield self.open_end

    def write(self, text: str) -> None:
        """Queue ``text``; the widget must be mounted."""
        self._queued.append(text)
        self._draw_wake.set()
        if self._drawer is None:
            self._drawer = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Return once everything written is drawn, all of it sealed."""
        self._ended.set()
        self._draw_wake.set()
        if self._drawer is not None:
            await self._drawer

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._draw_wake.wait()
            self._draw_wake.clear()
            if not self.is_attached:  # the app is closing
                return
            next_flush = loop.time() + 1 / FLUSHES_PER_SECOND
            self._open += "".join(self._queued)
            self._queued.clear()
            last = self._ended.is_set()
            await self._draw(last)
            if last:
                return
            with contextlib.suppress(TimeoutError):  # the end (or Escape) need not wait for the next flush
                await asyncio.wait_for(self._ended.wait(), max(0.0, next_flush - loop.time()))

    async def _draw(self, last: bool) -> None:
        """Seal what is finished (at the end, everything) and redraw the open end."""
        source = self._open
        point = seal_point(source) if not last and source.count("\n") >= SEAL_AFTER_LINES else None
        if point or (last and source):
            lines = source.splitlines(keepends=True)
            last_start, end = point or (len(lines), len(lines))
            finished = "".join(lines[:end]) if point else source
            await self.mount(SealedChunk(finished, self._last_sealed_block), before=self.open_end)
            self._last_sealed_block = "".join(lines[last_start:end])
            self._sealed_chars += len(finished)
            self._open = source[len(finished):]
        self.open_end.update(AnswerMarkdown(self._open, self._last_sealed_block) if self._open else "")
        self.open_end.display = bool(self._open)
        self.shown = self._sealed_chars + len(self._open)
