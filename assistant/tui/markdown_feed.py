"""An answer's Markdown, streamed at any speed for the cost of its open end.

Textual's ``Markdown`` widget makes a widget of every block (every list item
and table cell), and creating and laying out a widget costs a few milliseconds
here: a fast model's answer outruns it. So an answer is drawn by Rich's
Markdown renderer into the lines of one ``StreamingMarkdown`` widget. The
open end (the last two blocks, which may still change what they are) is
rendered again at most ``FLUSHES_PER_SECOND`` times a second whatever the
model's speed; the blocks before it are sealed: rendered once into lines that
are kept. The cost of an update does not grow with the answer, and as the
widget keeps room for a few more lines, most updates repaint only its own
changed lines, without a layout of the whole log.

The blank lines Rich puts between two blocks depend on both, so each sealed
piece is drawn after the last block of the piece before it (see
``AnswerMarkdown``): the streamed answer looks exactly like ``AnswerMarkdown``
of the whole text.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual, visualize
from textual.widget import Widget

FLUSHES_PER_SECOND = 30
SEAL_AFTER_LINES = 8  # fewer, and the seals would cost more than the redraws of the open end they save
DRAWING_SHARE = 0.33  # of the event loop's time, at most, for drawing a stream too fast to draw at the frame rate
FEWEST_FLUSHES_PER_SECOND = 10  # however long a draw takes: waiting longer would only make the next draw longer
RESERVE_LINES = (4, 24)  # the fewest and most blank lines kept below a streaming answer for it to grow into
RESERVE_SHARE = 1 / 3  # of the screen's height, at most, so the newest text always stays in view
LAYOUTS_PER_SECOND = 6  # the reserve holds this long of the stream's recent growth: a layout of the log is costly


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


@functools.lru_cache(maxsize=16)  # the open end is drawn after the same sealed block until the next seal
def _stand_in(block: str) -> str:
    """A short block Rich separates from the next exactly as it does ``block``.

    Rich puts a blank line before a block unless the block before it is a
    rule, and the next block starts at a block boundary, so only that one
    fact of ``block`` matters; rendering ``block`` itself again would cost
    as much as the text after it (a code block, a table).
    """
    if not block:
        return ""
    last = [token for token in _PARSER.parse(block) if token.level == 0][-1]
    return "---\n\n" if last.type == "hr" else "x\n\n"


class AnswerMarkdown:
    """How an answer's Markdown is drawn: Rich's renderer, which draws one block after another.

    Drawn as part of a longer answer, ``source`` comes ``after`` that
    answer's block before it, which decides the blank lines between the two:
    the lines are those of a stand-in for ``after`` and ``source`` together,
    less those of the stand-in alone. The lines are kept for the last width drawn
    at: Textual draws a widget once to measure its height and again to show it.
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
        stand_in = _stand_in(self.after)
        lines = console.render_lines(_Markdown(stand_in + self.source), options, pad=False, new_lines=True)
        return lines[len(console.render_lines(_Markdown(stand_in), options, pad=False)) if stand_in else 0:]


def seal_point(source: str) -> tuple[int, int] | None:
    """Where ``source``'s finished blocks that may be sealed end, as (first line of the last, line after it), or None.

    The last two blocks stay open: the last may still change what it is (a
    line becomes a table or a heading), and the one before it may be turned
    by it (a table's header row is a paragraph until its rule arrives).
    """
    starts = [token.map[0] for token in _PARSER.parse(source) if token.level == 0 and token.nesting >= 0 and token.map]
    return (starts[-3], starts[-2]) if len(starts) >= 3 else None


class StreamingMarkdown(Widget):
    """One run of an answer's text, drawn line by line from lines rendered once.

    The sealed blocks' lines are rendered once per width and kept; only the
    open end's are rendered again, on each draw. While the text streams the
    widget keeps blank lines below it to grow into (as many as the stream
    added in the last ``1 / LAYOUTS_PER_SECOND`` s, within ``RESERVE_LINES``
    and a third of the screen),
    so most draws repaint its changed lines without a layout of the log
    around it and the repaint of the screen that follows; the reserve goes
    when the text ends.

    ``write`` never waits; what arrived is drawn in the background, batched to
    the frame rate (or less often, when a draw takes more than ``DRAWING_SHARE``
    of the time between two). ``shown`` is how much of the text is on screen,
    ``sealed`` the sources of the finished blocks, in the order they were sealed.
    """

    DEFAULT_CSS = """
    StreamingMarkdown { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.shown = 0
        self.sealed: list[str] = []
        self._sealed_pieces: list[AnswerMarkdown] = []
        self._open_piece: AnswerMarkdown | None = None
        self._open = ""
        self._last_sealed_block = ""
        self._queued: list[str] = []
        self._sealed_chars = 0
        self._streaming = True
        self._drawn_for: tuple[int, Style] | None = None
        self._sealed_lines: list[Strip] = []
        self._open_lines: list[Strip] = []
        self._reserved = 0
        self._screen_height = 24
        self._grown_at = (0.0, 0)  # when the reserve was last outgrown, and the lines shown then
        self._draw_wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._drawer: asyncio.Task[None] | None = None

    @classmethod
    def finished(cls, text: str) -> StreamingMarkdown:
        """``text`` already whole (a saved answer): sealed at once and drawn when laid out, with no drawing task."""
        markdown = cls()
        markdown._seal(AnswerMarkdown(text))
        markdown.shown = markdown._sealed_chars = len(text)
        markdown._streaming = False
        return markdown

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
            started = loop.time()
            self._open += "".join(self._queued)
            self._queued.clear()
            last = self._ended.is_set()
            await self._draw(last)
            if last:
                return
            gap = max(1 / FLUSHES_PER_SECOND, (loop.time() - started) / DRAWING_SHARE)
            next_flush = started + min(gap, 1 / FEWEST_FLUSHES_PER_SECOND)
            with contextlib.suppress(TimeoutError):  # the end (or Escape) need not wait for the next flush
                await asyncio.wait_for(self._ended.wait(), max(0.0, next_flush - loop.time()))

    async def _draw(self, last: bool) -> None:
        """Seal what is finished (at the end, everything), render the open end, repaint what changed."""
        source = self._open
        point = seal_point(source) if not last and source.count("\n") >= SEAL_AFTER_LINES else None
        kept = len(self._sealed_lines)  # lines sealed before this draw: they stay as they are
        before = self._open_lines
        if point or (last and source):
            lines = source.splitlines(keepends=True)
            last_start, end = point or (len(lines), len(lines))
            finished = "".join(lines[:end]) if point else source
            self._seal(AnswerMarkdown(finished, self._last_sealed_block))
            self._last_sealed_block = "".join(lines[last_start:end])
            self._sealed_chars += len(finished)
            self._open = source[len(finished):]
        self._open_piece = AnswerMarkdown(self._open, self._last_sealed_block) if self._open else None
        self._streaming = not last
        self.shown = self._sealed_chars + len(self._open)
        if self._drawn_for is None:
            self.refresh(layout=True)
            return
        reserved = self._reserved
        self._open_lines = self._render(self._open_piece)
        if self._height() != reserved:
            self.refresh(layout=True)
            return
        after = self._sealed_lines[kept:] + self._open_lines
        first = next((y for y, (old, new) in enumerate(zip(before, after)) if old != new), min(len(before), len(after)))
        changed = max(len(before), len(after)) - first
        if changed:
            self.refresh(Region(0, kept + first, self._drawn_for[0], changed))

    def _seal(self, piece: AnswerMarkdown) -> None:
        self.sealed.append(piece.source)
        self._sealed_pieces.append(piece)
        if self._drawn_for is not None:
            self._sealed_lines.extend(self._render(piece))

    def _render(self, piece: AnswerMarkdown | None) -> list[Strip]:
        if piece is None or self._drawn_for is None:
            return []
        width, style = self._drawn_for
        return Visual.to_strips(self, visualize(self, piece), width, None, style)

    def _lines_for(self, width: int) -> None:
        """Render every piece again when the width or the style (a focused message) changed."""
        drawn_for = (width, self.visual_style)
        if drawn_for != self._drawn_for:
            self._drawn_for = drawn_for
            self._sealed_lines = [line for piece in self._sealed_pieces for line in self._render(piece)]
            self._open_lines = self._render(self._open_piece)

    def _height(self) -> int:
        """The lines shown, and while streaming the reserve after them, grown only when they outgrow it."""
        shown = len(self._sealed_lines) + len(self._open_lines)
        fewest, most = RESERVE_LINES
        most = max(fewest, min(most, int(self._screen_height * RESERVE_SHARE)))
        if not self._streaming:
            self._reserved = shown
        elif not shown <= self._reserved <= shown + 2 * most:
            now = asyncio.get_running_loop().time()
            then, shown_then = self._grown_at
            lines_per_second = (shown - shown_then) / max(now - then, 1 / FLUSHES_PER_SECOND)
            self._reserved = shown + min(most, max(fewest, round(lines_per_second / LAYOUTS_PER_SECOND)))
            self._grown_at = (now, shown)
        return self._reserved

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._screen_height = viewport.height
        self._lines_for(width)
        return self._height()

    def render_line(self, y: int) -> Strip:
        self._lines_for(self.size.width)
        sealed = self._sealed_lines
        if y < len(sealed):
            return sealed[y]
        if y - len(sealed) < len(self._open_lines):
            return self._open_lines[y - len(sealed)]
        return Strip.blank(self.size.width, self.visual_style.rich_style)
