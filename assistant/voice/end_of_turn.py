"""Whether the words heard so far can end a turn: the second opinion beside the end-of-turn model.

The end-of-turn model (``audio.turn``) listens to how a phrase ends. On a
person it tells "What is the capital of …" from a finished question; on a
synthetic voice, which ends every phrase with a finished melody, it does
not. The words tell what the melody may not: English seldom ends a request
with an article, a possessive, a conjunction or one of the prepositions
that open a noun phrase, and Whisper writes a trailing "…" when the speaker
trailed off. So a turn ends early only when the model *and* the words say
it is finished; otherwise it ends at ``audio.vad.min_silence_ms``, as
without the model. A question that really ends in a preposition ("Where
are you from?") is only answered a few hundred milliseconds later.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audio import Transcript

_OPEN_ENDINGS = frozenset(
    """
    a an the my your his her its our their this these those
    of to for in on at from with into onto about by than
    and or but because if whether that
    um uh er erm
    """.split()
)
"""Last words after which an English sentence is very rarely over, whatever Whisper's punctuation says."""
_TRAILING_OFF = re.compile(r"(\.\.\.|…|,|-|—)\s*$")


def sounds_unfinished(text: str, language: str | None = "en") -> bool:
    """True when ``text`` ends as a sentence that goes on would (for English; other languages: never)."""
    stripped = text.strip()
    if not stripped:
        return False
    if _TRAILING_OFF.search(stripped):
        return True
    if language not in (None, "en"):
        return False
    words = re.findall(r"[a-z']+", stripped.lower())
    return bool(words) and words[-1] in _OPEN_ENDINGS


def words_may_end_turn(early: asyncio.Task[tuple[Any, Transcript]] | None) -> bool:
    """The end-of-turn model called a pause the end: do the words of the early start's transcript agree?

    Until the transcript is ready the turn waits, which costs nothing: the
    answer cannot be spoken before it anyway. With no early start (or one
    that failed, which the turn's end will report) the model decides alone.
    """
    if early is None:
        return True
    if not early.done():
        return False
    if early.cancelled() or early.exception() is not None:
        return True
    _, transcript = early.result()
    return not sounds_unfinished(transcript.text, transcript.language)
