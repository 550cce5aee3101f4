"""Word error rate: how far a transcript is from what was said, ignoring case and punctuation.

Used by the tests and benchmarks to judge speech recognition the way a
listener would: "fellow Americans," and "fellow americans" are the same words.
"""

from __future__ import annotations

import re

_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_UNITS)} | {
    word: str(20 + 10 * index) for index, word in enumerate(_TENS)
}
"""Whisper writes "3" or "three" for the same sound; both count as the same word."""


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: "3.5" and "don't" stay whole; "6pm" is "6 pm",
    "%" is "percent" and "three" is "3", as Whisper writes either for the same sound."""
    text = text.lower().replace("’", "'").replace("%", " percent")
    text = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", text)
    return [_NUMBER_WORDS.get(word, word) for word in re.findall(r"[a-z0-9]+(?:['.][a-z0-9]+)*", text)]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words in the reference."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1] / len(ref)
