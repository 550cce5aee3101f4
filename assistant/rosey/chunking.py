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

ELLIPSIS = "…"

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"`+([^`]+?)`+")
_EMPHASIS = (
    re.compile(r"\*\*(.+?)\*\*"),
    re.compile(r"(?<!\w)__(.+?)__(?!\w)"),
    re.compile(r"~~(.+?)~~"),
    re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"),
    re.compile(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"),
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_ENDS_A_CLAUSE = tuple(".!?:;,…")


def strip_markdown(text: str) -> str:
    """Plain text of a Markdown answer, on one line."""
    lines: list[str] = []
    in_code = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        if in_code:
            lines.append(raw.strip())
            continue
        if _RULE.match(raw) or _TABLE_SEPARATOR.match(raw) and "-" in raw:
            continue
        line = raw
        ends_item = bool(_HEADING.match(line) or _BULLET.match(line))
        line = _HEADING.sub("", line)
        line = _QUOTE.sub("", line)
        line = _BULLET.sub("", line)
        if line.strip().startswith("|") or line.count("|") >= 2:
            line = ", ".join(cell.strip() for cell in line.strip().strip("|").split("|") if cell.strip())
            ends_item = True
        line = _inline(line).strip()
        if line and ends_item and not line.endswith(_ENDS_A_CLAUSE):
            line += "."
        lines.append(line)
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


def _inline(line: str) -> str:
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", line)
    line = _INLINE_CODE.sub(r"\1", line)
    for pattern in _EMPHASIS:
        line = pattern.sub(r"\1", line)
    return line


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
