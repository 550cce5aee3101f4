"""Which utterances are turns when the assistant waits to be called, and the call taken off them.

Two ways to call it (``voice.wake_word``):

* a bundled openWakeWord model (``hey_jarvis``, ``alexa`` ...): the model
  listens to the cleaned microphone and an utterance around a detection is a
  turn;
* any other word or words (``rosey``): a name, matched fuzzily against the
  first words of each transcript ("Rosie, what time is it?", "hey Rosey ...").

Either way the words after the call in the same breath are the turn ("hey
jarvis what time is it" asks "what time is it"); a call alone wakes it for
the next utterance. After an answer, and while one is being spoken, the
person may go on without calling it again for ``voice.follow_up_s``.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from audio.settings import WAKE_WORD_MODELS

from .settings import VoiceSettings

_DETECTION_SLACK_S = 0.5
"""A detection this close outside an utterance still belongs to it (the model reports at the phrase's end)."""
_GREETINGS = ("hey", "hi", "ok", "okay", "hello")
_NAME_SIMILARITY = 0.75
_PHRASE_SIMILARITY = 0.6
"""A detected phrase is only being located in the transcript, so a looser match is enough."""
_WORD = re.compile(r"[\w']+")


class WakeGate:
    """Says whether an utterance is a turn in wake-word mode, and what of it to send to the model."""

    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self.model = settings.wake_word if settings.wake_word in WAKE_WORD_MODELS else None
        self.phrase = WAKE_WORD_MODELS.get(settings.wake_word, settings.wake_word.replace("_", " "))
        self._detections: list[float] = []
        self._awake_until = float("-inf")
        self._replying = False

    @property
    def active(self) -> bool:
        return self.settings.mode == "wake_word"

    def waiting(self, now: float) -> bool:
        """Nothing said now would be a turn without the wake word."""
        return self.active and not self._replying and now > self._awake_until

    def detected(self, at: float) -> None:
        """The wake-word model heard its phrase, ending at stream second ``at``."""
        self._detections.append(at)
        del self._detections[:-8]

    def reply_started(self) -> None:
        self._replying = True

    def reply_ended(self, now: float) -> None:
        """An answer finished at stream second ``now``: the person may follow up without the wake word."""
        self._replying = False
        self._awake_until = max(self._awake_until, now + self.settings.follow_up_s)

    def turn_text(self, text: str, start: float, end: float) -> str | None:
        """The words to answer for an utterance heard from ``start`` to ``end``, or None if it is not a turn.

        An empty string means the person only called it: it is awake for the next utterance.
        """
        if not self.active:
            return text
        following_up = self._replying or start <= self._awake_until
        if self.model is not None:
            called = any(start - _DETECTION_SLACK_S <= at <= end + _DETECTION_SLACK_S for at in self._detections)
            rest = strip_call(text, self.phrase, _PHRASE_SIMILARITY) if called else None
            if called and rest is None:
                rest = text  # the model heard it even where Whisper wrote it otherwise
        else:
            rest = strip_call(text, self.phrase, _NAME_SIMILARITY)
            called = rest is not None
        if called:
            assert rest is not None
            if not rest:
                self._awake_until = max(self._awake_until, end + self.settings.follow_up_s)
            return rest
        return text if following_up else None


def strip_call(text: str, phrase: str, similarity: float) -> str | None:
    """``text`` without the ``phrase`` it starts with (after an optional greeting), or None if it doesn't."""
    words = list(_WORD.finditer(text))
    target = _letters(phrase)
    starts = [0, 1] if words and words[0].group().lower() in _GREETINGS else [0]
    best: tuple[float, int] | None = None
    for first in starts:
        for last in range(first, min(first + len(phrase.split()) + 1, len(words))):
            said = _letters(" ".join(word.group() for word in words[first : last + 1]))
            score = SequenceMatcher(None, said, target).ratio()
            if score >= similarity and (best is None or score >= best[0]):
                best = (score, words[last].end())
    if best is None:
        return None
    rest = text[best[1] :].lstrip(" ,.!?;:-—")
    return rest[:1].upper() + rest[1:]


def _letters(text: str) -> str:
    return "".join(character for character in text.lower() if character.isalnum())
