"""While the echo cancellers learn the room, speech that begins over the answer is taken for its echo.

AEC3 leaks syllables of the first second or so of echo it ever hears, and
Whisper makes words of them ("the key home.") that would interrupt the
answer. Real AEC3, the linear canceller and silero; JFK is the person, the
answer is espeak-ng (deterministic, so each run hears the same thing).
"""

from __future__ import annotations

import asyncio

import numpy as np

from assistant.voice.ears import LEARNING_S, Ears
from audio import Endpointer, SpeechEnded
from audio.aec import EchoCanceller, FarEnd
from audio.room import room_impulse_response
from audio.settings import AECSettings, VADSettings
from audio.types import FRAME_SAMPLES, SAMPLE_RATE
from tests.audio.speech import JFK_PATH, espeak, read_audio

PERSON = read_audio(JFK_PATH)[: round(2.3 * SAMPLE_RATE)]  # "And so, my fellow Americans"
ANSWER = espeak("Paris is the capital of France. It sits on the river Seine, in the north of the country.", "en-us")
ROOM = room_impulse_response(delay_ms=40, tail_ms=300, level_db=0, seed=7)
"""A laptop at arm's length: the answer as loud at the microphone as it was played."""


def utterances_heard(person_at: float, answer_at: float | None) -> list[SpeechEnded]:
    """The person speaking from ``person_at`` while the answer plays from ``answer_at`` (None: nothing plays)."""
    seconds = max(person_at + len(PERSON) / SAMPLE_RATE, (answer_at or 0) + len(ANSWER) / SAMPLE_RATE) + 1.5
    microphone = np.zeros(round(seconds * SAMPLE_RATE), np.float32)
    start = round(person_at * SAMPLE_RATE)
    microphone[start : start + len(PERSON)] += PERSON
    far_end = FarEnd(origin=0.0)
    if answer_at is not None:
        far_end.played(answer_at, ANSWER, SAMPLE_RATE)
        echo = np.convolve(ANSWER, ROOM)[: len(microphone) - round(answer_at * SAMPLE_RATE)]
        microphone[round(answer_at * SAMPLE_RATE) :][: len(echo)] += echo
    ears = Ears(Endpointer(VADSettings()), far_end, EchoCanceller(AECSettings()), None, 0.5, 160)

    async def listen() -> list[SpeechEnded]:
        ended = []
        for index in range(len(microphone) // FRAME_SAMPLES):
            at = index * FRAME_SAMPLES / SAMPLE_RATE
            frame = microphone[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
            heard = await ears.hear(frame, at, at, speaking=answer_at is not None and at >= answer_at)
            ended += [event for event in heard.events if isinstance(event, SpeechEnded)]
        return ended + [event for event in ears.flush() if isinstance(event, SpeechEnded)]

    return asyncio.run(listen())


def persons(heard: list[SpeechEnded], person_at: float) -> list[SpeechEnded]:
    """The utterances that hold the person's words."""
    return [event for event in heard if event.start < person_at + len(PERSON) / SAMPLE_RATE and event.end > person_at]


def test_speech_beginning_in_the_first_echo_ever_heard_is_taken_for_the_echo() -> None:
    heard = utterances_heard(person_at=0.3, answer_at=0.0)

    assert persons(heard, 0.3) and all(event.echo_suspect for event in heard)
    assert all(event.start < LEARNING_S + 0.5 for event in heard), "each began while the cancellers were learning"


def test_speech_beginning_once_the_room_is_learnt_is_the_persons() -> None:
    person_at = 4.0  # the linear canceller, which hears a voice over the echo, learns in 2-4 s
    heard = persons(utterances_heard(person_at, answer_at=0.0), person_at)

    assert heard and not any(event.echo_suspect for event in heard)


def test_speech_while_nothing_plays_is_the_persons() -> None:
    heard = utterances_heard(person_at=0.5, answer_at=None)

    assert heard and not any(event.echo_suspect for event in heard)


def test_speech_before_the_first_answer_is_the_persons_even_if_the_answer_starts_over_it() -> None:
    heard = utterances_heard(person_at=0.3, answer_at=1.0)

    assert heard and not heard[0].echo_suspect
