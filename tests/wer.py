"""Word error rate: how far a transcript is from what was said, counted the way a listener would.

Used by the tests and benchmarks to judge speech recognition. Whisper writes
the same spoken words in many ways ("kilometres" or "kilometers", "three" or
"3", "9:30" or "9.30", "I'm" or "I am"); none of these is a recognition
error, so both sides go through Whisper's own English normalizer (spelling,
numbers, contractions, punctuation) before the words are compared.
"""

from __future__ import annotations

import re
from functools import cache

import jiwer
from whisper_normalizer.english import EnglishTextNormalizer

_BEFORE_NORMALIZING = (
    (re.compile(r"\b([01]?\d|2[0-3])\.([0-5]\d)\b(?!\.?\d)"), r"\1 \2"),
    (re.compile(r"\bo'clock\b", re.IGNORECASE), "oclock"),
)
"""What the normalizer would get wrong: it reads "9:30" as "9 30" but keeps "9.30" (Whisper's British way
of writing the same time), and it reads the "o" of "3 o'clock" as a zero ("30 clock")."""


@cache
def _normalizer() -> EnglishTextNormalizer:
    return EnglishTextNormalizer()


def words(text: str) -> list[str]:
    """The spoken words of ``text``: lower case, no punctuation, American spelling, numbers as digits
    ("twenty five" is "25"), contractions spelled out, "%" as "percent", "9.30" and "9:30" as "9 30",
    "plus four" as "plus 4" (the normalizer would make it "+4")."""
    text = text.replace("’", "'")
    for pattern, replacement in _BEFORE_NORMALIZING:
        text = pattern.sub(replacement, text)
    return re.sub(r"\+(?=\d)", "plus ", _normalizer()(text)).replace("%", " percent").split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words in the reference."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(bool(hyp))
    if not hyp:
        return 1.0
    return jiwer.wer(" ".join(ref), " ".join(hyp))
