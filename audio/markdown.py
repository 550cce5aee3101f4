"""Markdown read as plain words: what a listener hears, or a chat room reads, of a formatted answer.

A model formats its answers for a screen. ``MarkdownLines`` reads one as it
streams in and takes off the block markup (headings, list markers, quotes,
table pipes, rules, code fences), reporting the structure as events; then
``plain_text`` or ``speakable`` take the inline markup off the text that is
left, keeping its words (``**bold**`` -> bold, a link -> its text,
```code``` -> code, verbatim).

The spoken answer and the chat line differ where a listener and a reader do:

- a link: a listener hears its text only; a chat line keeps the address,
  "text (url)", when it is not the text itself (``link_addresses``);
- fenced code: a chat line keeps it as plain text, speech skips it
  (``keep_code``);
- speech also drops an emphasis marker left without its pair, because a
  spoken chunk may hold half of an emphasised phrase, and says "12 * 7" as
  "12 times 7"; on screen "*args" and "3×4" stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial

_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]+|$)")
_BULLET = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_QUOTES = re.compile(r"(?: {0,3}>[ \t]?)*")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_TABLE_SEPARATOR = re.compile(r"[\s|:\-]*-[\s|:\-]*")
_MAYBE_MARKER = re.compile(r"`{1,2}|~{1,2}|#+|\d{1,9}[.)]?|([-*_])(?:[ \t]*\1)*[ \t]*")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(((?:[^()]|\([^)]*\))*)\)")
_Rules = tuple[tuple[re.Pattern[str], str], ...]
_OTHER_LINKS_AND_TAGS: _Rules = (
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # [text][ref] -> text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # <https://...> -> the address
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # HTML tags
)
_EMPHASIS: _Rules = (
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(.+?)__(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"), r"\1"),  # _italic_, but snake_case stays
)
_SPOKEN_ONLY: _Rules = (
    (re.compile(r"(?<=\d)\s*[*×]\s*(?=\d)"), " times "),  # 12 * 7 is said "12 times 7", not "asterisk"
    (re.compile(r"\*\*|__|~~"), ""),
    (re.compile(r"\*(?=\S)|(?<=\S)\*"), ""),
    (re.compile(r"(?<!\w)_(?=\S)|(?<=\S)_(?!\w)"), ""),
)
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_STAND_IN = 0xE000
"""Escaped marks ("\\*") hide as private-use code points while the markup rules run, then show without the backslash."""
_STOOD_IN = re.compile("[\uE000-\uE07F]")

_CLOSING_MARKS = "\"')]}”’»"
_ENDS_A_CLAUSE = ".!?…:;,—–"


class Kind(Enum):
    """What a reader event says about the text."""

    TEXT = "text"  # inline Markdown of the current line; a line may arrive in several pieces
    LINE_END = "line end"  # a line of a paragraph ends: the next one runs on
    ITEM_END = "item end"  # a heading, list item or table row ends: it stands alone
    BREAK = "break"  # a blank line or a rule: what came before it is finished
    CODE_BLOCK = "code block"  # a fenced code block begins
    CODE_LINE = "code line"  # a line inside it, as written (only when the code is kept)


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the reading; ``text`` is set for ``TEXT`` and ``CODE_LINE``."""

    kind: Kind
    text: str = ""


class MarkdownLines:
    """Streamed Markdown in, its lines as events out.

    Text is released as soon as no block markup can still begin its line, so
    speech can start on the first words of a paragraph; a line that may yet
    turn out to be a marker ("1" of "1. ", "``" of a fence) or a table row is
    held until that is known.
    """

    def __init__(self, *, keep_code: bool) -> None:
        self._keep_code = keep_code
        self._pending = ""
        self._in_line = False
        self._line_is_item = False
        self._fence: str | None = None
        self._events: list[Event] = []

    def feed(self, delta: str) -> list[Event]:
        """The events that ``delta`` completes (often none)."""
        self._pending += delta.replace("\r", "")
        while self._pending and self._step():
            pass
        return self._take()

    def flush(self) -> list[Event]:
        """Everything still held, at the end of the text; an unclosed code block ends with it."""
        if (self._pending or self._in_line) and not self._pending.endswith("\n"):
            self._pending += "\n"
        while self._pending and self._step():
            pass
        self._pending = ""
        self._fence = None
        return self._take()

    def _take(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def _step(self) -> bool:
        """Consume what can be decided now; False when more text is needed."""
        if self._fence is not None:
            return self._code_line()
        if self._in_line:
            return self._continue_line()
        return self._start_line()

    def _start_line(self) -> bool:
        newline = self._pending.find("\n")
        complete = newline >= 0
        line = self._pending[:newline] if complete else self._pending
        if not complete and (_may_become_block_marker(line) or _is_table_row(line)):
            return False
        if fence := _FENCE.match(line):
            if not complete:
                return False
            self._consume(newline + 1)
            self._fence = fence.group(1)
            self._events.append(Event(Kind.CODE_BLOCK))
            return True
        if complete and (not line.strip() or _RULE.fullmatch(line)):
            self._consume(newline + 1)
            self._events.append(Event(Kind.BREAK))
            return True
        if _is_table_row(line):
            self._consume(newline + 1)
            if cells := _table_row_text(line):
                self._events += [Event(Kind.TEXT, cells), Event(Kind.ITEM_END)]
            return True
        text_start, self._line_is_item = _block_markup(line)
        self._consume(text_start)
        self._in_line = True
        return True

    def _continue_line(self) -> bool:
        newline = self._pending.find("\n")
        if newline < 0:
            self._events.append(Event(Kind.TEXT, self._pending))
            self._pending = ""
            return False
        if newline:
            self._events.append(Event(Kind.TEXT, self._pending[:newline]))
        self._consume(newline + 1)
        self._in_line = False
        self._events.append(Event(Kind.ITEM_END if self._line_is_item else Kind.LINE_END))
        return True

    def _code_line(self) -> bool:
        newline = self._pending.find("\n")
        if newline < 0:
            return False
        line = self._pending[:newline]
        self._consume(newline + 1)
        assert self._fence is not None
        if _closes_fence(line, self._fence):
            self._fence = None
        elif self._keep_code:
            self._events.append(Event(Kind.CODE_LINE, line))
        return True

    def _consume(self, count: int) -> None:
        self._pending = self._pending[count:]


def _block_markup(line: str) -> tuple[int, bool]:
    """Where the text of ``line`` begins after its quote, heading or list markers, and whether it is an item."""
    quotes = _QUOTES.match(line)
    assert quotes is not None  # the pattern also matches no quote at all
    item = _HEADING.match(line, quotes.end()) or _BULLET.match(line, quotes.end())
    return (item.end(), True) if item else (quotes.end(), False)


def _may_become_block_marker(line_start: str) -> bool:
    """True while the start of an unfinished line could still turn out to be block markup.

    "1" may become "1. " (a list) or "1.5" (text); "``" may become a code fence.
    """
    quotes = _QUOTES.match(line_start)
    assert quotes is not None
    rest = line_start[quotes.end() :]
    return not rest.strip() or _MAYBE_MARKER.fullmatch(rest.lstrip(" \t")) is not None


def _closes_fence(line: str, fence: str) -> bool:
    """A line of the fence's character, at least as long as the fence that opened the block."""
    marks = line.strip()
    return marks.startswith(fence) and not marks.strip(fence[0])


def _is_table_row(line: str) -> bool:
    return line.lstrip().startswith("|")


def _table_row_text(line: str) -> str:
    """A table row read as its cells separated by commas; the separator row says nothing."""
    if _TABLE_SEPARATOR.fullmatch(line):
        return ""
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return ", ".join(cell for cell in cells if cell)


def plain_text(markdown: str, *, link_addresses: bool) -> str:
    """Inline Markdown as it reads on a screen without markup; code spans keep their text verbatim."""
    return _outside_code_spans(_links_as_words(markdown, link_addresses), _unmarked)


def speakable(markdown: str) -> str:
    """Inline Markdown as a listener should hear it: words only, no symbols, no link addresses."""
    return _outside_code_spans(_links_as_words(markdown, with_addresses=False), _unspoken)


def with_full_stop(text: str) -> str:
    """``text`` ending with "." unless it already ends a sentence or clause (past closing quotes and brackets).

    A heading or list item has no full stop of its own; read in a row of
    sentences it would run into the next one.
    """
    core = text.rstrip(_CLOSING_MARKS)
    if not core or core[-1] in _ENDS_A_CLAUSE:
        return text
    return text + "."


def _links_as_words(markdown: str, with_addresses: bool) -> str:
    """Links before code spans, so a link whose text is code ("[`len`](url)") still reads as a link."""
    return _LINK.sub(partial(_link_words, with_address=with_addresses), _IMAGE.sub(r"\1", markdown))


def _link_words(link: re.Match[str], with_address: bool) -> str:
    words, target = link.group(1), link.group(2).split()
    address = target[0].strip("<>") if target else ""
    if not with_address or not address or address == words:
        return words
    return f"{words} ({address})"


def _outside_code_spans(markdown: str, convert: Callable[[str], str]) -> str:
    pieces: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(markdown):
        pieces.append(convert(markdown[position : span.start()]))
        pieces.append(span.group(2).strip())
        position = span.end()
    pieces.append(convert(markdown[position:]))
    return " ".join("".join(pieces).split())


def _unmarked(text: str) -> str:
    text = _ESCAPED.sub(lambda escaped: chr(_STAND_IN + ord(escaped.group(1))), text)
    for pattern, replacement in _OTHER_LINKS_AND_TAGS + _EMPHASIS:
        text = pattern.sub(replacement, text)
    return _STOOD_IN.sub(lambda stand_in: chr(ord(stand_in.group()) - _STAND_IN), text)


def _unspoken(text: str) -> str:
    text = _unmarked(text)
    for pattern, replacement in _SPOKEN_ONLY:
        text = pattern.sub(replacement, text)
    return text
