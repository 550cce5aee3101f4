"""Endpointer: silero VAD finds where spoken turns start and end in real speech."""

from __future__ import annotations

import numpy as np
import pytest

from audio.settings import VADSettings
from audio.stt import Transcriber
from audio.tts import Synthesizer
from audio.types import FRAME_SAMPLES
from audio.vad import (
    Endpointer,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    VADEvent,
)
from tests.audio.speech import JFK_TEXT, quiet_noise, silence, spoken
from tests.wer import word_error_rate, words

PATIENT = VADSettings(min_silence_ms=1500)
"""Kennedy pauses for up to 1.1 s inside his sentence; a patient endpointer waits for him."""


def run(endpointer: Endpointer, audio: np.ndarray, block: int = FRAME_SAMPLES) -> list[VADEvent]:
    events: list[VADEvent] = []
    for start in range(0, len(audio), block):
        events.extend(endpointer.feed(audio[start : start + block]))
    return events


def ended(events: list[VADEvent]) -> list[SpeechEnded]:
    return [event for event in events if isinstance(event, SpeechEnded)]


def test_one_sentence_between_silences_is_one_turn_with_all_its_words(
    jfk: np.ndarray, transcriber: Transcriber
) -> None:
    audio = np.concatenate([silence(1.0), jfk, silence(2.0)]) + quiet_noise(14.0, 0.002)
    events = run(Endpointer(PATIENT), audio)
    assert [type(event) for event in events if not isinstance(event, SpeechPaused | SpeechResumed)] == [
        SpeechStarted,
        SpeechEnded,
    ]
    turn = ended(events)[0]
    assert 1.0 <= turn.start <= 1.6 and 11.5 <= turn.end <= 12.1
    heard = transcriber.transcribe(turn.pcm).text
    assert words(heard)[0] == "and", "the first syllable was cut off"
    assert word_error_rate(JFK_TEXT, heard) <= 0.1, heard


def test_the_utterance_keeps_the_audio_from_before_speech_was_detected(jfk: np.ndarray) -> None:
    audio = np.concatenate([silence(1.0), jfk, silence(2.0)])
    turn = ended(run(Endpointer(VADSettings(speech_pad_ms=320, min_silence_ms=1500)), audio))[0]
    detected, pre_roll = round(turn.start * 16000), 320 * 16
    assert np.array_equal(turn.pcm[: pre_roll + 16000], audio[detected - pre_roll : detected + 16000])


def test_pre_roll_saves_the_first_word_when_speech_is_detected_late(
    jfk: np.ndarray, transcriber: Transcriber
) -> None:
    late = VADSettings(threshold=0.9, speech_pad_ms=300, min_silence_ms=1500)
    audio = np.concatenate([silence(1.0), jfk, silence(2.0)]) + quiet_noise(14.0, 0.002)
    turn = ended(run(Endpointer(late), audio))[0]
    assert turn.start > 1.5, "speech was detected early; this test needs a late detection"
    assert words(transcriber.transcribe(turn.pcm).text)[:2] == ["and", "so"]


def test_two_questions_separated_by_a_long_silence_are_two_turns(
    synthesizer: Synthesizer, transcriber: Transcriber
) -> None:
    first, second = "What time is it in Tokyo?", "And how is the weather there?"
    audio = np.concatenate(
        [silence(0.5), spoken(synthesizer, first), silence(2.0), spoken(synthesizer, second), silence(1.0)]
    )
    turns = ended(run(Endpointer(), audio))
    assert len(turns) == 2
    for said, turn in zip((first, second), turns, strict=True):
        heard = transcriber.transcribe(turn.pcm).text
        assert word_error_rate(said, heard) <= 0.2, heard


def test_a_short_pause_is_announced_and_its_audio_is_the_final_utterance(synthesizer: Synthesizer) -> None:
    audio = np.concatenate([silence(0.5), spoken(synthesizer, "Set a timer for ten minutes."), silence(1.5)])
    events = run(Endpointer(VADSettings(pause_ms=200, min_silence_ms=800)), audio)
    pauses = [event for event in events if isinstance(event, SpeechPaused)]
    turn = ended(events)[0]
    assert pauses and pauses[-1].at == turn.end
    assert np.array_equal(pauses[-1].pcm, turn.pcm), "an early transcript of the pause would be stale"


def test_speech_after_a_pause_resumes_the_same_turn(jfk: np.ndarray) -> None:
    events = run(Endpointer(PATIENT), np.concatenate([silence(0.5), jfk, silence(2.0)]))
    kinds = [type(event) for event in events]
    assert SpeechResumed in kinds
    assert kinds.count(SpeechEnded) == 1
    assert kinds.index(SpeechPaused) < kinds.index(SpeechResumed) < kinds.index(SpeechEnded)


def test_a_short_end_of_turn_silence_ends_a_turn_at_a_dramatic_pause(jfk: np.ndarray) -> None:
    """Silence alone cannot tell a pause to think from an end: 700 ms cuts Kennedy's sentence in three."""
    turns = ended(run(Endpointer(VADSettings(min_silence_ms=700)), np.concatenate([silence(0.5), jfk, silence(1.0)])))
    assert len(turns) > 1


def test_the_default_longest_wait_outlasts_a_speakers_second_long_pauses(jfk: np.ndarray) -> None:
    """min_silence_ms is the cap the end-of-turn model ends finished turns before; pauses to think fit under it."""
    turns = ended(run(Endpointer(), np.concatenate([silence(0.5), jfk, silence(1.5)])))
    assert len(turns) == 1 and turns[0].by_silence


@pytest.mark.parametrize("block", [160, 480, 1000, 16000])
def test_blocks_of_any_size_give_the_same_turns(jfk: np.ndarray, block: int) -> None:
    audio = np.concatenate([silence(1.0), jfk, silence(2.0)])
    reference = ended(run(Endpointer(PATIENT), audio))
    turns = ended(run(Endpointer(PATIENT), audio, block))
    assert [(turn.start, turn.end, len(turn.pcm)) for turn in turns] == [
        (turn.start, turn.end, len(turn.pcm)) for turn in reference
    ]


def test_silence_and_room_noise_start_no_turn() -> None:
    assert run(Endpointer(), np.concatenate([silence(2.0), quiet_noise(3.0, 0.01), silence(1.0)])) == []


def test_a_click_shorter_than_min_speech_does_not_start_a_turn(synthesizer: Synthesizer) -> None:
    blip = spoken(synthesizer, "Hm.")[: int(0.15 * 16000)]
    audio = np.concatenate([silence(1.0), blip, silence(1.5)])
    assert run(Endpointer(VADSettings(min_speech_ms=400)), audio) == []


def test_input_that_ends_mid_sentence_ends_the_turn_on_flush(jfk: np.ndarray) -> None:
    endpointer = Endpointer(PATIENT)
    events = run(endpointer, np.concatenate([silence(0.5), jfk[: 16000 * 2]]))
    assert [type(event) for event in events] == [SpeechStarted]
    (turn,) = endpointer.flush()
    assert isinstance(turn, SpeechEnded) and turn.end == pytest.approx(2.5, abs=0.05)


def test_a_monologue_is_cut_at_max_speech(jfk: np.ndarray) -> None:
    turns = ended(run(Endpointer(VADSettings(min_silence_ms=1500, max_speech_s=3.0)), jfk))
    assert len(turns) >= 2
    assert all(len(turn.pcm) / 16000 <= 3.0 + 0.04 for turn in turns)
