"""Echo cancellation with the real WebRTC AEC3, on Piper speech played back through generated rooms."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnxruntime
import pytest

from audio import Synthesizer, Transcriber
from audio.aec import EchoCanceller, FarEnd
from audio.room import room_impulse_response
from audio.settings import AECSettings
from audio.types import FRAME_SAMPLES, SAMPLE_RATE
from tests.audio.speech import spoken
from tests.wer import words

ROOMS = [
    pytest.param(dict(delay_ms=20, tail_ms=150, level_db=0), id="near, dry, as loud as played"),
    pytest.param(dict(delay_ms=60, tail_ms=300, level_db=-5), id="far, reverberant"),
    pytest.param(dict(delay_ms=80, tail_ms=400, level_db=-10), id="farther, long tail, quieter"),
]


REPLY_TEXT = (
    "The capital of France is Paris. It sits on the river Seine, and its museums "
    "hold some of the most famous paintings in the world."
)
ECHO_WORDS = {"capital", "france", "paris", "river", "seine", "museums", "famous", "paintings", "world"}


@pytest.fixture(scope="module")
def reply() -> Iterator[np.ndarray]:
    """The same Piper draw whichever tests ran before: a voice of its own, loaded after the seed."""
    onnxruntime.set_seed(0)
    synthesizer = Synthesizer()
    try:
        yield spoken(synthesizer, REPLY_TEXT)
    finally:
        synthesizer.close()


def in_room(played: np.ndarray, response: np.ndarray) -> np.ndarray:
    return np.convolve(played, response)[: len(played)].astype(np.float32)


def cancel(near: np.ndarray, far: np.ndarray, settings: AECSettings | None = None) -> tuple[np.ndarray, EchoCanceller]:
    canceller = EchoCanceller(settings or AECSettings(noise_suppression=0))
    frames = range(0, len(near) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    cleaned = np.concatenate([canceller.process(near[i : i + FRAME_SAMPLES], far[i : i + FRAME_SAMPLES]) for i in frames])
    return cleaned, canceller


def level_db(pcm: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(np.square(pcm)) + 1e-12))


@pytest.mark.parametrize("room", ROOMS)
def test_the_speakers_echo_is_taken_out_of_the_microphone(reply: np.ndarray, room: dict[str, float]) -> None:
    echo = in_room(reply, room_impulse_response(**room, seed=1))

    cleaned, canceller = cancel(echo, reply)
    reduction = canceller.reduction()

    after_a_second = slice(SAMPLE_RATE, len(cleaned))
    removed = level_db(echo[after_a_second]) - level_db(cleaned[after_a_second])
    assert removed >= 20, f"only {removed:.1f} dB of echo removed"
    assert reduction.erle_db == pytest.approx(level_db(echo[: len(cleaned)]) - level_db(cleaned), abs=0.5)
    assert reduction.delay_ms == pytest.approx(room["delay_ms"], abs=2), "the speaker-to-mic delay is measured"


def test_a_person_talking_over_the_echo_is_kept(reply: np.ndarray, jfk: np.ndarray, transcriber: Transcriber) -> None:
    person = jfk[: len(reply)].copy()
    person *= np.sqrt(np.mean(reply**2) / np.mean(person**2))  # as loud as the echo
    echo = in_room(reply, room_impulse_response(delay_ms=40, tail_ms=250, level_db=0, seed=2))

    cleaned, _ = cancel(echo + person, reply)

    heard, raw = (words(transcriber.transcribe(pcm).text) for pcm in (cleaned, echo + person))
    assert set(raw) & ECHO_WORDS, raw  # without the canceller, the answer is what is heard
    assert not set(heard) & ECHO_WORDS, heard
    assert any(word.startswith(("fellow", "americ", "country")) for word in heard), heard


def test_the_far_end_is_what_played_when_and_a_stop_cuts_it() -> None:
    far = FarEnd(origin=100.0)
    tone = np.ones(SAMPLE_RATE, np.float32) * 0.5

    far.played(101.0, tone, SAMPLE_RATE)
    far.cut(101.5)

    window = far.window(100.75, SAMPLE_RATE)
    assert not window[: SAMPLE_RATE // 4].any(), "nothing played before the chunk's start"
    assert np.allclose(window[SAMPLE_RATE // 4 : 3 * SAMPLE_RATE // 4], 0.5)
    assert not window[3 * SAMPLE_RATE // 4 :].any(), "nothing after the speaker stopped"


def test_switched_off_it_leaves_the_echo_and_reports_no_reduction(reply: np.ndarray) -> None:
    echo = in_room(reply, room_impulse_response(delay_ms=40, level_db=0, seed=3))

    cleaned, canceller = cancel(echo, reply, AECSettings(enabled=False, noise_suppression=1))

    assert level_db(echo[: len(cleaned)]) - level_db(cleaned) < 3
    assert canceller.reduction().erle_db is None
