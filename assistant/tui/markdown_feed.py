"""An answer's Markdown, streamed at any speed for the cost of its open end.

Textual's ``Markdown`` re-parses only its last block on ``append``, but every
block is a widget (a list item, a table cell), and each update lays out every
widget on the screen: the cost grows with the answer, and with the
conversation above it. So a ``StreamingMarkdown`` keeps an open tail that takes
the new text, at most ``FLUSHES_PER_SECOND`` times a second whatever the
model's speed, and seals the finished blocks before it into ``SealedChunk``s
once the tail has grown past ``SEAL_AFTER_LINES``. A sealed chunk is parsed
once; while it is off screen its blocks leave the layout and it keeps only its
height, so the screen lays out only what is near the viewport.

A chunk is sealed only before a block whose top margin is zero (a paragraph,
a list, a table): the gap above it is then the bottom margin of the block
before it whether the two sit in one widget or two, so the sealed answer looks
exactly like one ``Markdown`` of the whole text.
"""

from __future__ import annotations

import asyncio

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from textual import events
from textual.app import ComposeResult
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Markdown

FLUSHES_PER_SECOND = 30
SEAL_AFTER_LINES = 40
_SEALS_BEFORE = frozenset({"paragraph_open", "bullet_list_open", "ordered_list_open", "table_open"})


def _keep_line_breaks(state: StateCore) -> None:
    """A single line break is a line break: models mean theirs, where Markdown would join the lines."""
    for token in state.tokens:
        for child in token.children or []:
            if child.type == "softbreak":
                child.type = "hardbreak"


_PARSER = MarkdownIt("gfm-like")
_PARSER.core.ruler.push("keep_line_breaks", _keep_line_breaks)


def new_markdown(text: str | None = None) -> Markdown:
    """A Markdown widget sharing one parser (``Markdown.append`` otherwise builds one per call, ~0.5 ms)."""
    return Markdown(text, parser_factory=lambda: _PARSER)


def seal_point(source: str) -> int | None:
    """The line up to which ``source`` holds finished blocks that may be sealed, or None.

    The tail keeps at least its last two blocks: the last may still change
    what it is (a line becomes a table or a heading), and the one before it,
    finished, starts the tail, so its top margin is known to be zero.
    """
    starts = [token for token in _PARSER.parse(source) if token.level == 0 and token.nesting >= 0 and token.map]
    for token in reversed(starts[1:-1]):
        if token.type in _SEALS_BEFORE:
            return token.map[0]
    return None


class SealedChunk(Widget):
    """Finished blocks of an answer, parsed once; off screen, only their height is left."""

    DEFAULT_CSS = """
    SealedChunk { height: auto; }
    """

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.markdown = new_markdown(source)

    def compose(self) -> ComposeResult:
        yield self.markdown

    def park_unless_near(self, viewport: Region) -> None:
        """Take the blocks out of the layout while far from ``viewport``, bring them back near it."""
        region = self.region
        if not region:
            return
        near = region.overlaps(viewport.grow((viewport.height, 0, viewport.height, 0)))
        if near and not self.markdown.display:
            self.styles.height = "auto"
            self.markdown.display = True
        elif not near and self.markdown.display:
            self.styles.height = region.height
            self.markdown.display = False

    def on_resize(self, event: events.Resize) -> None:
        if not self.markdown.display and event.size.width != self.region.width:  # the height kept is for another width
            self.styles.height = "auto"
            self.markdown.display = True


class StreamingMarkdown(Widget):
    """One run of an answer's text: sealed chunks, then the open tail the stream writes into.

    ``write`` never waits; what arrived is drawn in the background, batched to
    the frame rate. ``shown`` is how much of the text is on screen.
    """

    DEFAULT_CSS = """
    StreamingMarkdown { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.tail = new_markdown()
        self.shown = 0
        self._queued: list[str] = []
        self._sealed_chars = 0
        self._ending = False
        self._draw_wake = asyncio.Event()
        self._drawer: asyncio.Task[None] | None = None

    def compose(self) -> ComposeResult:
        yield self.tail

    def write(self, text: str) -> None:
        """Queue ``text``; the widget must be mounted."""
        self._queued.append(text)
        self._draw_wake.set()
        if self._drawer is None:
            self._drawer = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Return once everything written is drawn; a tail left inside a code fence is redrawn whole."""
        self._ending = True
        self._draw_wake.set()
        if self._drawer is not None:
            await self._drawer
        if self.tail.is_attached and self.tail.source.count("```") % 2:
            await self.tail.update(self.tail.source)  # the tail may end blank inside an unclosed fence

    async def _run(self) -> None:
        while True:
            await self._draw_wake.wait()
            self._draw_wake.clear()
            if not self.is_attached:  # the app is closing
                return
            if self._queued:
                text = "".join(self._queued)
                self._queued.clear()
                await self.tail.append(text)
                await self._seal()
                self.shown = self._sealed_chars + len(self.tail.source)
            if self._ending and not self._queued:
                return
            if not self._ending:
                await asyncio.sleep(1 / FLUSHES_PER_SECOND)

    async def _seal(self) -> None:
        source = self.tail.source
        if source.count("\n") < SEAL_AFTER_LINES:
            return
        line = seal_point(source)
        if line is None:
            return
        lines = source.splitlines(keepends=True)
        finished, rest = "".join(lines[:line]), "".join(lines[line:])
        tail = new_markdown()  # not ``update``: after it, ``append`` would re-parse from the last line, not block
        with self.app.batch_update():
            await self.mount(SealedChunk(finished), before=self.tail)
            await self.tail.remove()
            self.tail = tail
            await self.mount(tail)
            await tail.append(rest)
        self._sealed_chars += len(finished)
        self.park_far_chunks(self.screen.region)  # while the log follows the answer, nothing else parks them

    def park_far_chunks(self, viewport: Region) -> None:
        for chunk in self.query_children(SealedChunk):
            chunk.park_unless_near(viewport)
