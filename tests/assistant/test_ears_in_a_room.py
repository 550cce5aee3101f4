"""The microphone on laptop speakers, as the voice loop hears it: a person, or only the answer's echo?

Real AEC3, the linear canceller and silero, frame by frame on one clock, so
each run hears exactly the same thing. The answer is the assistant's own
voice (a kept Piper rendering, tests/audio/data) or espeak-ng, played through
generated rooms; JFK is the person talking over it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.voice.ears import LEARNING_S, Ears
from audio import Endpointer, SpeechEnded
from audio.aec import EchoCanceller, FarEnd
from audio.room import room_impulse_response
from audio.settings import AECSettings, VADSettings
from audio.types import FRAME_SAMPLES, SAMPLE_RATE
from tests.audio.speech import JFK_PATH, espeak, pink_noise, read_audio

PERSON = read_audio(JFK_PATH)[: round(2.3 * SAMPLE_RATE)]  # "And so, my fellow Americans"
PERSON_ONSET_S = 0.33
"""Where "And" begins in the clip."""
SHORT_ANSWER = espeak(
    "Paris is the capital of France. It sits on the river Seine, in the north of the country.", "en-us"
)
OWN_VOICE = read_audio(Path(__file__).parents[1] / "audio" / "data" / "piper_answer.flac")
LAPTOP = dict(delay_ms=40, tail_ms=300, level_db=0, seed=7)
"""A laptop at arm's length: the answer as loud at the microphone as it was played."""


@dataclass
class Heard:
    utterances: list[SpeechEnded] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)
    """Stream seconds where speech over the answer began that stopped it."""

    def persons(self, person_at: float) -> list[SpeechEnded]:
        """The utterances that hold the person's words."""
        end = person_at + len(PERSON) / SAMPLE_RATE
        return [event for event in self.utterances if event.start < end and event.end > person_at]


def heard_in_room(
    answer: np.ndarray,
    answer_at: float | None,
    person_at: float | None,
    room: dict[str, float] = LAPTOP,
    person_db: float = 0.0,
) -> Heard:
    """The answer playing from ``answer_at`` (None: nothing plays) and the person speaking from ``person_at``.

    ``person_db``: how much louder the person is than the answer was played.
    """
    seconds = max((person_at or 0) + len(PERSON) / SAMPLE_RATE, (answer_at or 0) + len(answer) / SAMPLE_RATE) + 1.5
    microphone = pink_noise(seconds, -50, seed=0)
    far_end = FarEnd(origin=0.0)
    if person_at is not None:
        start = round(person_at * SAMPLE_RATE)
        level = np.sqrt(np.mean(answer**2) / np.mean(PERSON**2)) * 10 ** (person_db / 20)
        microphone[start : start + len(PERSON)] += PERSON * level
    if answer_at is not None:
        far_end.played(answer_at, answer, SAMPLE_RATE)
        start = round(answer_at * SAMPLE_RATE)
        echo = np.convolve(answer, room_impulse_response(**room))[: len(microphone) - start]
        microphone[start : start + len(echo)] += echo
    ears = Ears(Endpointer(VADSettings()), far_end, EchoCanceller(AECSettings()), None, 0.5, 160)
    answer_end = (answer_at or 0) + len(answer) / SAMPLE_RATE

    async def listen() -> Heard:
        heard = Heard()
        for index in range(len(microphone) // FRAME_SAMPLES):
            at = index * FRAME_SAMPLES / SAMPLE_RATE
            frame = microphone[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
            speaking = answer_at is not None and answer_at <= at < answer_end
            result = await ears.hear(frame, at, at, speaking)
            heard.utterances += [event for event in result.events if isinstance(event, SpeechEnded)]
            if result.barge_in_at is not None:
                heard.barge_ins.append(result.barge_in_at)
        heard.utterances += [event for event in ears.flush() if isinstance(event, SpeechEnded)]
        return heard

    return asyncio.run(listen())


def test_speech_beginning_in_the_first_echo_ever_heard_is_taken_for_the_echo() -> None:
    heard = heard_in_room(SHORT_ANSWER, answer_at=0.0, person_at=0.3, person_db=6)  # close to the laptop

    assert heard.persons(0.3) and all(event.echo_suspect for event in heard.utterances)
    assert all(event.start < LEARNING_S + 0.5 for event in heard.utterances), "each began while the room was learnt"


def test_speech_beginning_once_the_room_is_learnt_is_the_persons() -> None:
    person_at = 4.0  # the linear canceller, which hears a voice over the echo, learns in 2-4 s
    heard = heard_in_room(SHORT_ANSWER, answer_at=0.0, person_at=person_at).persons(person_at)

    assert heard and not any(event.echo_suspect for event in heard)


def test_speech_while_nothing_plays_is_the_persons() -> None:
    heard = heard_in_room(SHORT_ANSWER, answer_at=None, person_at=0.5).persons(0.5)

    assert heard and not any(event.echo_suspect for event in heard)


def test_speech_before_the_first_answer_is_the_persons_even_if_the_answer_starts_over_it() -> None:
    heard = heard_in_room(SHORT_ANSWER, answer_at=1.0, person_at=0.3).persons(0.3)

    assert heard and not heard[0].echo_suspect


def test_its_own_voice_never_stops_the_answer_while_the_room_is_being_learnt() -> None:
    rooms = [
        dict(delay_ms=40, tail_ms=300, level_db=0, seed=0),
        dict(delay_ms=5, tail_ms=400, level_db=3, seed=0),
        dict(delay_ms=40, tail_ms=300, level_db=0, seed=3),
    ]
    for room in rooms:
        heard = heard_in_room(OWN_VOICE, answer_at=0.5, person_at=None, room=room)

        assert heard.barge_ins == [], f"its own echo stopped it in {room}"


def test_a_person_talking_over_the_learnt_echo_stops_the_answer_at_once() -> None:
    speaks_at = 6.0 + PERSON_ONSET_S
    heard = heard_in_room(OWN_VOICE, answer_at=0.5, person_at=6.0)

    assert heard.barge_ins and speaks_at - 0.1 <= heard.barge_ins[0] <= speaks_at + 0.5, heard.barge_ins


def test_a_first_word_spoken_over_loud_syllables_of_the_echo_starts_the_barge_in() -> None:
    for person_at in (6.75, 9.0):  # "And" lands on loud syllables: frames of mostly echo within the word
        speaks_at = person_at + PERSON_ONSET_S
        heard = heard_in_room(OWN_VOICE, answer_at=0.5, person_at=person_at)

        started = heard.barge_ins[0] if heard.barge_ins else None
        assert started is not None and speaks_at - 0.1 <= started <= speaks_at + 0.2, (person_at, heard.barge_ins)
