"""Streaming text to speakable chunks, so speech starts long before the answer is finished.

The model's answer arrives as small text deltas. Piper needs whole phrases
to sound natural, but waiting for the whole answer would add seconds of
silence. So the first chunk is released at the first clause boundary after
a few words ("Sure, here is how it works,") and every later chunk at a
sentence end. A full stop only ends a sentence when whitespace and a
capital follow and the word before it is not an abbreviation, so "3.5",
"e.g. this", "Dr. Smith" and "https://example.com/a.b" stay whole.

Markdown is for the screen: markers are dropped, link text is kept, and a
fenced code block is not read out; the listener hears "I've put the code on
screen." once per answer instead.

A model can also write a long run with no boundary at all (a number of
hundreds of digits, a word list without commas): with ``first_chunk_limit``
the first chunk is released anyway that many seconds after the answer's
first text, up to its last space, so the listener is never left in silence.

Two stages: ``markdown.MarkdownLines`` reads lines (block markup, code
fences, tables), then ``_Sentences`` cuts the remaining inline text into
chunks and makes each one speakable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from . import markdown

CODE_PLACEHOLDER = "I've put the code on screen."

ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "al",
        "approx", "dept", "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    }
)
"""Words whose full stop does not end a sentence (lower case, without the final stop).

Only titles, Latin and month abbreviations: "sun" or "fig" would stop real sentences from ending."""

_SENTENCE_END = ".!?…"
_CLAUSE_END = ",;:"
_DASHES = "—–"
_CLOSERS = "\"')]}*_”’»"
_MAX_CHUNK_CHARS = 300
"""A sentence longer than this is cut at a clause or a space: Piper would otherwise keep the listener waiting."""


class SpeechChunker:
    """Text deltas in, speakable chunks out. One chunker per answer."""

    def __init__(
        self,
        first_chunk_min_words: int = 3,
        early_first_chunk: bool = True,
        first_chunk_limit: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lines = markdown.MarkdownLines(keep_code=False)
        self._sentences = _Sentences(first_chunk_min_words if early_first_chunk else None)
        self._said_code = False
        self._first_chunk_limit = first_chunk_limit
        self._clock = clock
        self._first_text_at: float | None = None

    def feed(self, delta: str) -> list[str]:
        """The chunks that ``delta`` completes (often none)."""
        self._read(self._lines.feed(delta))
        if self._first_chunk_limit is not None and not self._sentences.emitted_any:
            now = self._clock()
            if self._first_text_at is None:
                self._first_text_at = now
            elif now - self._first_text_at >= self._first_chunk_limit:
                self._sentences.release_held()
        return self._sentences.take()

    def flush(self) -> list[str]:
        """Everything still held, at the end of the answer; an unclosed code block is dropped."""
        self._read(self._lines.flush())
        self._sentences.hard_break()
        return self._sentences.take()

    def _read(self, events: list[markdown.Event]) -> None:
        """Lines of a paragraph run on into one text; a heading, list item or table row stands alone."""
        for event in events:
            match event.kind:
                case markdown.Kind.TEXT:
                    self._sentences.add(event.text)
                case markdown.Kind.LINE_END:
                    self._sentences.add(" ")
                case markdown.Kind.CODE_BLOCK:
                    self._sentences.hard_break()
                    if not self._said_code:
                        self._said_code = True
                        self._sentences.emit(CODE_PLACEHOLDER)
                case markdown.Kind.ITEM_END | markdown.Kind.BREAK:
                    self._sentences.hard_break()


def split_sentences(text: str, early_first_chunk: bool = False) -> list[str]:
    """Whole text to speakable sentences, e.g. for ``assistant say``.

    With ``early_first_chunk`` the first clause is a chunk of its own, as in a
    streamed answer: a server speaking a whole text sends its first audio after
    a Piper pass over that clause instead of over the whole first sentence.
    """
    chunker = SpeechChunker(early_first_chunk=early_first_chunk)
    return chunker.feed(text) + chunker.flush()


class _Sentences:
    """Inline text (Markdown still in it) cut into speakable chunks."""

    def __init__(self, first_chunk_min_words: int | None) -> None:
        self._first_chunk_min_words = first_chunk_min_words
        self._text = ""
        self._out: list[str] = []
        self._emitted_any = False

    def add(self, text: str) -> None:
        self._text += text
        while (end := self._boundary()) is not None:
            self._cut(end)

    def hard_break(self) -> None:
        """The end of a paragraph, heading or list item: whatever is held is a chunk of its own."""
        self.add("")
        if self._text.strip():
            self._cut(len(self._text), end_of_block=True)
        self._text = ""

    def release_held(self) -> None:
        """Waited too long for a boundary: what is held goes out up to its last space (all of it if none).

        Only whole words go: a word still being written waits for the next chunk.
        """
        text = self._text
        protected = _protected_positions(text)
        spaces = [i for i, char in enumerate(text) if char.isspace() and i not in protected]
        if spaces and any(char.isalnum() for char in text[: spaces[-1]]):
            self._cut(spaces[-1])
        elif text.strip() and not protected:
            self._cut(len(text))

    @property
    def emitted_any(self) -> bool:
        return self._emitted_any

    def emit(self, chunk: str) -> None:
        self._out.append(chunk)
        self._emitted_any = True

    def take(self) -> list[str]:
        out, self._out = self._out, []
        return out

    def _cut(self, end: int, end_of_block: bool = False) -> None:
        chunk = markdown.speakable(self._text[:end])
        self._text = self._text[end:].lstrip()
        if not any(char.isalnum() for char in chunk):
            return
        if end_of_block:
            chunk = markdown.with_full_stop(chunk)
        self.emit(chunk)

    def _boundary(self) -> int | None:
        """End of the first chunk in the held text, or None until more text decides it."""
        text = self._text
        early = self._first_chunk_min_words if not self._emitted_any else None
        protected = _protected_positions(text)
        words = 0
        last_clause = last_space = None
        for i, char in enumerate(text):
            if char.isspace():
                if i and not text[i - 1].isspace():
                    words += 1
                if i not in protected:
                    last_space = i
                continue
            if i in protected:
                continue
            if char in _SENTENCE_END:
                end = _sentence_end(text, i)
                if end != _NOT_AN_END:
                    return end  # a chunk end, or None: wait for more text
            elif char in _CLAUSE_END or char in _DASHES:
                after = i + 1
                if after == len(text):
                    return None
                if char in _DASHES or text[after].isspace():
                    if early is not None and words + 1 >= early:
                        return after
                    last_clause = after
        if len(text) > _MAX_CHUNK_CHARS:
            return last_clause or last_space or len(text)
        return None


_NOT_AN_END = -1


def _sentence_end(text: str, stop: int) -> int | None:
    """Where the chunk ends if the mark at ``stop`` ends a sentence; ``_NOT_AN_END``; None if undecided."""
    end = stop + 1
    while end < len(text) and (text[end] in _CLOSERS or text[end] in _SENTENCE_END):
        end += 1
    if end == len(text):
        return None
    if not text[end].isspace():
        return _NOT_AN_END
    if text[stop] != ".":
        return end
    following = end
    while following < len(text) and text[following].isspace():
        following += 1
    if following == len(text):
        return None
    if text[following].islower():
        return _NOT_AN_END
    words_before = text[:stop].split()
    word = re.sub(r"^\W+", "", words_before[-1]).lower() if words_before else ""
    if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return _NOT_AN_END
    return end


def _protected_positions(text: str) -> set[int]:
    """Positions inside a code span or a link target, where no chunk may end."""
    protected: set[int] = set()
    for span in re.finditer(r"(`+)(?:.+?\1|.*$)", text, re.DOTALL):
        protected.update(range(span.start(), span.end()))
    for link in re.finditer(r"\]\((?:[^()]|\([^)]*\))*(?:\)|$)", text):
        protected.update(range(link.start(), link.end()))
    return protected
