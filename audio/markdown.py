"""Markdown to speakable text: what a listener should hear of a model's formatted answer.

Inline markup is removed but its words kept (``**bold**`` -> bold, a link ->
its text, ```code``` -> code); block markup (headings, list markers, quotes,
table pipes, rules) is recognised at the start of a line by ``SpeechChunker``,
which also skips fenced code blocks.
"""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # [text][ref] -> text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # <https://...> -> the address
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # HTML tags
    (re.compile(r"(?<=\d)\s*[*×]\s*(?=\d)"), " times "),  # 12 * 7 is said "12 times 7", not "asterisk"
    (re.compile(r"\*\*|__|~~"), ""),  # bold, strikethrough
    (re.compile(r"\*(?=\S)|(?<=\S)\*"), ""),  # *italic*
    (re.compile(r"(?<!\w)_(?=\S)|(?<=\S)_(?!\w)"), ""),  # _italic_, but snake_case stays
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])"), r"\1"),  # backslash escapes
    (re.compile(r"\s+"), " "),
)

HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]+|$)")
BULLET = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
QUOTE = re.compile(r" {0,3}>[ \t]?")
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
TABLE_SEPARATOR = re.compile(r"[\s|:\-]*-[\s|:\-]*")
_MAYBE_MARKER = re.compile(r"`{1,2}|~{1,2}|#+|\d{1,9}[.)]?|([-*_])(?:[ \t]*\1)*[ \t]*")


def speakable(markdown: str) -> str:
    """One line of Markdown without its inline markup; code spans keep their text verbatim."""
    pieces: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(markdown):
        pieces.append(_strip_markup(markdown[position : span.start()]))
        pieces.append(span.group(2).strip())
        position = span.end()
    pieces.append(_strip_markup(markdown[position:]))
    return re.sub(r"\s+", " ", "".join(pieces)).strip()


def _strip_markup(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text


def may_become_block_marker(line_start: str) -> bool:
    """True while the start of an unfinished line could still turn out to be block markup.

    "1" may become "1. " (a list) or "1.5" (text); "``" may become a code fence.
    """
    return _MAYBE_MARKER.fullmatch(line_start.lstrip(" \t")) is not None or not line_start.strip()


def table_row_text(line: str) -> str:
    """A table row read out as its cells separated by commas; the separator row says nothing."""
    if TABLE_SEPARATOR.fullmatch(line):
        return ""
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return ", ".join(cell for cell in cells if cell)
