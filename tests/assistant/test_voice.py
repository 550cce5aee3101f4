"""The voice loop with real Whisper, Piper, silero and the embedded model, on WAV files and on ALSA devices.

Questions are spoken by Piper and fed in at the real rate, as a microphone
would; the answers are recorded on the same clock and transcribed back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from assistant.config import Config
from assistant.orchestrator import INTERRUPTED_MARK
from assistant.session import Session
from assistant.voice.events import Heard, Interrupted
from assistant.voice.loop import VoiceLoop
from assistant.voice.models import SpeechModels
from audio import SAMPLE_RATE, WavFileInput, WavFileOutput, read_audio
from audio.markdown import speakable
from audio.resample import resample
from llm import MessageRole
from tests.alsa_card import FileSoundCard
from tests.assistant.tui_helpers import scripted_config, tui_config
from tests.wer import words

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def voice_config(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Config:
    return tui_config(tmp_path_factory.mktemp("voice"), model_path)


@pytest.fixture(scope="module")
def ears(voice_config: Config) -> Iterator[SpeechModels]:
    ears = SpeechModels.from_config(voice_config)
    ears.transcriber.warm()
    ears.synthesizer.warm()
    yield ears
    ears.close()


def spoken(ears: SpeechModels, text: str) -> np.ndarray:
    pcm = np.concatenate([chunk.pcm for chunk in ears.synthesizer.synthesize(text)])
    return resample(pcm, ears.synthesizer.sample_rate, SAMPLE_RATE)


def trimmed(pcm: np.ndarray, level: float = 0.01) -> np.ndarray:
    """Speech without the silence Piper puts around it (its length varies from draw to draw)."""
    loud = np.flatnonzero(np.abs(pcm) > level)
    return pcm[loud[0] : loud[-1] + 1]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.float32)


def write_wav(path: Path, *parts: np.ndarray) -> Path:
    soundfile.write(path, np.concatenate(parts), SAMPLE_RATE, subtype="PCM_16")
    return path


def share_heard(reply: str, said: str) -> float:
    """How much of the reply's vocabulary came back from the speaker (Whisper's spelling aside)."""
    def vocabulary(text: str) -> set[str]:
        return {word.replace("'", "") for word in words(text)}

    expected = vocabulary(speakable(reply))
    return len(expected & vocabulary(said)) / len(expected) if expected else 0.0


def sound_onset(pcm: np.ndarray, rate: int, level: float = 0.02) -> float:
    loud = np.flatnonzero(np.abs(pcm) > level)
    return float(loud[0]) / rate


def sound_end(pcm: np.ndarray, rate: int, level: float = 0.02) -> float:
    loud = np.flatnonzero(np.abs(pcm) > level)
    return float(loud[-1]) / rate


async def run_loop(
    config: Config, ears: SpeechModels, microphone_wav: Path, speaker_wav: Path, turns: int
) -> tuple[Session, VoiceLoop, list[Any]]:
    session = Session(config)
    events: list[Any] = []
    microphone = WavFileInput(microphone_wav, realtime=True, trailing_silence=1.5)
    speaker = WavFileOutput(speaker_wav)
    try:
        loop = VoiceLoop.from_config(config, session, ears, microphone, speaker, events.append)
        await loop.run(max_turns=turns)
    finally:
        await speaker.close()
        await session.close()
    return session, loop, events


def test_listen_answers_a_spoken_question_and_the_two_files_show_the_latency(
    ears: SpeechModels, tmp_path: Path, model_path: Path
) -> None:
    question = write_wav(tmp_path / "question.wav", silence(0.4), spoken(ears, "What is 12 times 7?"))
    answer = tmp_path / "answer.wav"
    environment = {
        **{k: v for k, v in os.environ.items() if k != "ASSISTANT_CONFIG"},
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "listen", "--input", str(question), "--output", str(answer), "--json"],
        capture_output=True, text=True, env=environment, timeout=300, check=False, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert {"12", "times", "7"} <= set(words(report["transcript"]))
    assert report["reply"].strip()
    for stage in ("stt_ms", "ttft_ms", "first_chunk_ms", "tts_first_ms", "endpoint_wait_ms"):
        assert report[stage] > 0, stage
    assert report["first_audio_ms"] > 0
    assert report["warmup_ms"] > 0, "loading the models is reported apart from the turn"

    heard_pcm, rate = soundfile.read(answer, dtype="float32")
    said = ears.transcriber.transcribe(resample(heard_pcm, rate, SAMPLE_RATE)).text
    assert share_heard(report["reply"], said) >= 0.6, f"the speaker said {said!r} for {report['reply']!r}"
    question_pcm = read_audio(question)
    from_files_ms = (sound_onset(heard_pcm, rate) - sound_end(question_pcm, SAMPLE_RATE)) * 1000
    assert from_files_ms == pytest.approx(report["first_audio_ms"], abs=250), "both files run on one clock"


async def test_warming_has_the_embedded_model_read_the_conversation_before_the_first_question(
    voice_config: Config,
) -> None:
    """llama.cpp reads only what is new in a prompt: warmed on one token, the first question read the system prompt."""
    session = Session(voice_config, store=None)
    models = SpeechModels.from_config(voice_config)
    try:
        await models.warm(session)
        llama = session.provider._llama  # what llama.cpp has read so far
        system_prompt = session.context.system_message.encode()
        read = llama.detokenize(llama._input_ids[: llama.n_tokens].tolist())
    finally:
        models.close()
        await session.close()
    assert system_prompt in read, "the first question would read the whole system prompt"


LONG_ANSWER = " ".join(f"Number {n} comes after number {n - 1}." for n in range(1, 60))
"""About a minute of speech: far longer than the silence before the person speaks over it."""


async def test_speaking_over_the_answer_stops_it_and_keeps_only_what_was_heard(
    ears: SpeechModels, tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply(LONG_ANSWER, pieces=60)
    scripted_openai.reply("12 times 7 is 84.")
    scripted_openai.reply("12 times 7 is 84.")  # when the interruption is heard only at its end, it is asked again
    config = scripted_config(tmp_path, model_path, scripted_openai)
    long_question = spoken(ears, "List the numbers from 1 to 200.")
    follow_up = spoken(ears, "What is 12 times 7?")
    # The follow-up comes seconds into the answer: in its first second or so, before the echo canceller
    # has learnt the room, AEC3 takes a voice over the answer for echo and the first words are lost.
    microphone = write_wav(tmp_path / "mic.wav", silence(0.3), long_question, silence(6.0), follow_up)

    session, loop, events = await run_loop(config, ears, microphone, tmp_path / "speaker.wav", turns=2)
    latencies = loop.turns

    assert [type(e) for e in events if isinstance(e, Interrupted)] == [Interrupted]
    assert len([e for e in events if isinstance(e, Heard)]) == 2
    assert latencies[0].interrupted and not latencies[1].interrupted
    messages = [m for m in session.context.get_messages() if m.role is not MessageRole.SYSTEM]
    assert [m.role for m in messages] == [MessageRole.USER, MessageRole.ASSISTANT] * 2
    cut = messages[1].content
    assert cut.endswith(INTERRUPTED_MARK) and len(cut) < len(LONG_ANSWER) / 2
    heard = next(e for e in events if isinstance(e, Interrupted)).spoken
    assert heard and cut == heard + INTERRUPTED_MARK, "the conversation keeps exactly the words that were played"
    assert "12" in words(messages[2].content), "the new words became the next turn"
    assert messages[3].content == "12 times 7 is 84."
    sent = scripted_openai.requests[-1]["messages"]
    assert sent[-2] == {"role": "assistant", "content": cut}, "the next question is asked on what was heard"


async def test_a_pause_mid_question_is_not_the_end_of_the_turn(
    voice_config: Config, ears: SpeechModels, tmp_path: Path
) -> None:
    start, rest = trimmed(spoken(ears, "What is 12")), trimmed(spoken(ears, "times 7?"))
    microphone = write_wav(tmp_path / "mic.wav", silence(0.3), start, silence(0.25), rest, silence(0.1))

    session, loop, events = await run_loop(voice_config, ears, microphone, tmp_path / "speaker.wav", turns=1)

    heard = [e.text for e in events if isinstance(e, Heard)]
    assert len(heard) == 1 and {"12", "7"} <= set(words(heard[0])), f"both halves make one turn: {heard}"
    users = [m.content for m in session.context.get_messages() if m.role is MessageRole.USER]
    assert users == heard, "the answer begun during the pause was thrown away"
    assert loop.early_discarded >= 1
    assert loop.turns[0].reply.strip()


def test_the_whole_loop_runs_on_real_sound_devices(
    sound_card: FileSoundCard, ears: SpeechModels, tmp_path: Path, model_path: Path
) -> None:
    sound_card.speak_into_mic(np.concatenate([silence(0.5), spoken(ears, "What is 12 times 7?"), silence(3.0)]))

    result = sound_card.run(
        "tests.assistant.alsa_voice_child", str(tmp_path / "data"), str(model_path), timeout=300
    )

    assert len(result["heard"]) == 1 and "times" in words(result["heard"][0])
    said = ears.transcriber.transcribe(sound_card.speaker_audio(ears.synthesizer.sample_rate)).text
    reply = result["turns"][0]["reply"]
    assert share_heard(reply, said) >= 0.6, f"the speaker said {said!r} for {reply!r}"


async def test_the_app_hears_a_question_and_shows_the_answer_with_its_latency(
    voice_config: Config, ears: SpeechModels, tmp_path: Path
) -> None:
    from assistant.tui.app import AssistantApp
    from assistant.tui.widgets import AssistantMessage, UserMessage
    from tests.assistant.tui_helpers import wait_until

    question = write_wav(tmp_path / "mic.wav", silence(0.3), spoken(ears, "What is 12 times 7?"))

    def devices():
        return WavFileInput(question, realtime=True, trailing_silence=1.5), WavFileOutput(tmp_path / "out.wav")

    app = AssistantApp(voice_config, voice_devices=devices)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f3")

        def latency_shown() -> bool:
            return any("from the end of your speech" in str(label.render())
                       for answer in app.query(AssistantMessage) for label in answer.query(".figures"))

        await wait_until(pilot, latency_shown, "the spoken answer and its latency line")
        heard = [m.text for m in app.query(UserMessage)]
        assert len(heard) == 1 and "12" in words(heard[0])
        assert app.query(AssistantMessage).last().text.strip()
