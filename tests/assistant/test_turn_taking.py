"""When the person's turn ends: soon after a finished question, never at a pause inside a sentence.

The whole voice loop with real silero, Whisper, Piper and the Smart Turn
model, the person played into it in real time; answers come from the
scripted backend. Speech is espeak-ng's: voices the project never tuned on,
the same every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from assistant.config import Config
from assistant.voice.events import Heard, Interrupted, Latency
from assistant.voice.models import SpeechModels
from audio import SAMPLE_RATE
from tests.assistant.test_voice import run_loop
from tests.assistant.tui_helpers import scripted_config, tui_config
from tests.audio.speech import espeak, silence
from tests.wer import words

PATIENT_CAP = {"audio.vad.min_silence_ms": 3000}
"""A cap far beyond the short silence, so only the end-of-turn model can end a turn soon."""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[SpeechModels]:
    models = SpeechModels.from_config(tui_config(tmp_path_factory.mktemp("turns"), model_path))
    models.transcriber.warm()
    models.synthesizer.warm()
    models.turn_detector()
    yield models
    models.close()


def voiced(pcm: np.ndarray) -> np.ndarray:
    """Speech without espeak-ng's own silence around it, so a pause put between two parts is the pause heard."""
    loud = np.flatnonzero(np.abs(pcm) > 0.01 * np.abs(pcm).max())
    return pcm[loud[0] : loud[-1] + 1]


def speech_wav(path: Path, *parts: np.ndarray) -> Path:
    soundfile.write(path, np.concatenate([silence(0.5), *parts]), SAMPLE_RATE, subtype="PCM_16")
    return path


async def turns_heard(config: Config, models: SpeechModels, wav: Path, tmp_path: Path) -> tuple[list[Any], Latency]:
    _, loop, events = await run_loop(config, models, wav, tmp_path / "answer.wav", turns=1)
    assert loop.turns, f"no turn was answered: {events}"
    return [event for event in events if isinstance(event, Heard | Interrupted)], loop.turns[0]


@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
async def test_a_finished_question_ends_after_the_short_silence_not_the_cap(
    models: SpeechModels, tmp_path: Path, model_path: Path, scripted_openai, voice: str
) -> None:
    scripted_openai.reply("Paris.")
    config = scripted_config(tmp_path, model_path, scripted_openai, **PATIENT_CAP)
    wav = speech_wav(tmp_path / "question.wav", espeak("What is the capital of France?", voice), silence(1.0))

    heard, turn = await turns_heard(config, models, wav, tmp_path)

    assert turn.ended_by == "turn model", f"the turn waited for the {PATIENT_CAP} cap: {turn}"
    assert turn.turn_probability is not None and turn.turn_probability >= config.audio.turn.threshold
    assert [type(event) for event in heard] == [Heard] and "france" in words(heard[0].text)


@pytest.mark.parametrize("pause", [0.6, 0.9])
async def test_a_pause_inside_a_sentence_keeps_it_one_turn(
    models: SpeechModels, tmp_path: Path, model_path: Path, scripted_openai, pause: float
) -> None:
    """A synthetic voice ends "Can you remind me to" with a finished melody; the words say it goes on."""
    scripted_openai.reply("I will.")
    config = scripted_config(tmp_path, model_path, scripted_openai)
    wav = speech_wav(
        tmp_path / "question.wav",
        voiced(espeak("Can you remind me to", "en-us")), silence(pause),
        voiced(espeak("call my mother tonight?", "en-us")),
    )

    heard, turn = await turns_heard(config, models, wav, tmp_path)

    assert [type(event) for event in heard] == [Heard], f"one turn, answered once: {heard}"
    assert {"remind", "mother"} <= set(words(turn.transcript)), turn.transcript


async def test_with_the_turn_model_off_silence_alone_ends_the_turn(
    models: SpeechModels, tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply("Paris.")
    config = scripted_config(
        tmp_path, model_path, scripted_openai, **{"audio.turn.enabled": False, "audio.vad.min_silence_ms": 700}
    )
    wav = speech_wav(tmp_path / "question.wav", espeak("What is the capital of France?", "en-us"), silence(1.0))

    _, turn = await turns_heard(config, models, wav, tmp_path)

    assert turn.ended_by == "silence" and turn.turn_probability is None
