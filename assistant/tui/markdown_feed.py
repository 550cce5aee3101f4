"""Streaming text into a Textual ``Markdown`` widget without falling behind the model.

Textual's own ``MarkdownStream`` awaits ``sleep(0)`` for every fragment, so a
turn reads one token per pass of the event loop, and each pass may lay out
the whole screen: measured here, a 2 s stream at 5,000 tokens/s was still
being read 18 s later (bench/tui_stream.py). This feed never makes the
writer wait, batches what arrived into at most ``APPENDS_PER_SECOND``
appends (each one re-lays out the screen), and shares one Markdown parser
(``Markdown.append`` otherwise builds a new one per call, ~0.5 ms).
"""

from __future__ import annotations

import asyncio

from markdown_it import MarkdownIt
from textual.widgets import Markdown

APPENDS_PER_SECOND = 20
_PARSER = MarkdownIt("gfm-like")


def new_markdown() -> Markdown:
    return Markdown(parser_factory=lambda: _PARSER)


class MarkdownFeed:
    """Text for one ``Markdown`` widget, appended in the background."""

    def __init__(self, markdown: Markdown) -> None:
        self._markdown = markdown
        self._pending: list[str] = []
        self._closing = False
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._wake.set()

    async def close(self) -> None:
        """Return once everything written is in the widget."""
        self._closing = True
        self._wake.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._markdown.is_attached:  # the app is closing
                return
            if self._pending:
                text = "".join(self._pending)
                self._pending.clear()
                await self._markdown.append(text)
            if self._closing and not self._pending:
                return
            if not self._closing:
                await asyncio.sleep(1 / APPENDS_PER_SECOND)
