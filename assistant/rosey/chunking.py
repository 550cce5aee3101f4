"""An answer cut into CyTube chat lines.

A chat line is short and plain: CyTube shows Markdown symbols as typed and
cuts long lines, so the answer loses its Markdown, its newlines are
flattened, and it is packed into lines of at most ``max_chars`` at sentence
boundaries (then word boundaries, then anywhere for a monster word). At
most ``max_messages`` lines are sent; a cut answer ends with "…" so the
room can tell.
"""

from __future__ import annotations

import re

from audio import markdown

ELLIPSIS = "…"

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def strip_markdown(text: str) -> str:
    """Plain text of a Markdown answer, on one line.

    A link keeps its address, which the room can follow; fenced code stays
    as plain text; a heading, list item or table row gets a full stop so it
    does not run into the next line.
    """
    reader = markdown.MarkdownLines(keep_code=True)
    lines: list[str] = []
    line = ""
    for event in reader.feed(text) + reader.flush():
        match event.kind:
            case markdown.Kind.TEXT:
                line += event.text
            case markdown.Kind.LINE_END:
                lines.append(markdown.plain_text(line, link_addresses=True))
                line = ""
            case markdown.Kind.ITEM_END:
                lines.append(markdown.with_full_stop(markdown.plain_text(line, link_addresses=True)))
                line = ""
            case markdown.Kind.CODE_LINE:
                lines.append(event.text.strip())
    return " ".join(" ".join(lines).split())


def chunk_message(text: str, max_chars: int = 240, max_messages: int = 4) -> list[str]:
    """``text`` as at most ``max_messages`` chat lines of at most ``max_chars`` characters each."""
    plain = strip_markdown(text)
    if not plain:
        return []
    chunks: list[str] = []
    current = ""
    for piece in _pieces(plain, max_chars):
        if current and len(current) + 1 + len(piece) <= max_chars:
            current += " " + piece
        else:
            if current:
                chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    if len(chunks) > max_messages:
        chunks = chunks[:max_messages]
        chunks[-1] = _with_ellipsis(chunks[-1], max_chars)
    return chunks


def _pieces(plain: str, max_chars: int) -> list[str]:
    """Sentences that fit a line; longer ones cut at words, and words longer than a line cut anywhere."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(plain):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        line = ""
        for word in sentence.split(" "):
            while len(word) > max_chars:
                if line:
                    pieces.append(line)
                    line = ""
                pieces.append(word[:max_chars])
                word = word[max_chars:]
            if line and len(line) + 1 + len(word) <= max_chars:
                line += " " + word
            else:
                if line:
                    pieces.append(line)
                line = word
        if line:
            pieces.append(line)
    return pieces


def _with_ellipsis(line: str, max_chars: int) -> str:
    if len(line) + len(ELLIPSIS) <= max_chars:
        return line + ELLIPSIS
    cut = line[: max_chars - len(ELLIPSIS)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + ELLIPSIS
