"""Transcriber: real faster-whisper with the bundled models hears real and synthetic speech."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from pydantic import ValidationError

from audio.errors import AudioFileError, ModelNotFound
from audio.models import assemble_base
from audio.settings import STTSettings
from audio.stt import Transcriber, choose_language, hallucination, locale_language
from audio.tts import Synthesizer
from audio.types import SAMPLE_RATE
from tests.audio.speech import (
    JFK_PATH,
    JFK_TEXT,
    other_voice,
    quiet_noise,
    silence,
    spoken,
    whisper_decodes,
    with_noise,
)
from tests.wer import word_error_rate, words


def write_mp3(pcm: np.ndarray, path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libmp3lame", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_tiny_en_transcribes_the_reference_recording(transcriber: Transcriber) -> None:
    transcript = transcriber.transcribe_file(JFK_PATH)
    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.1, transcript.text
    assert transcript.language == "en"
    assert transcript.audio_seconds == pytest.approx(11.0, abs=0.05)
    assert transcript.dropped == ""


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_wav_and_mp3_files_are_read_like_flac(
    transcriber: Transcriber, jfk: np.ndarray, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"jfk{suffix}"
    if suffix == ".wav":
        soundfile.write(path, jfk, SAMPLE_RATE, subtype="PCM_16")
    else:
        write_mp3(jfk, path)
    assert word_error_rate(JFK_TEXT, transcriber.transcribe_file(path).text) <= 0.1


def test_multilingual_base_model_is_assembled_from_its_two_packages_and_transcribes(
    model_cache: Path, jfk: np.ndarray
) -> None:
    base = Transcriber(STTSettings(model="base", beam_size=5), cache_dir=model_cache)
    try:
        transcript = base.transcribe(jfk)
    finally:
        base.close()
    assert word_error_rate(JFK_TEXT, transcript.text) <= 0.1, transcript.text
    assert transcript.language == "en"
    assert (model_cache / "whisper-base-ct2" / "model.bin").stat().st_size == 2 * 72_608_766


def test_a_truncated_base_model_is_assembled_again(model_cache: Path) -> None:
    model_bin = assemble_base(model_cache) / "model.bin"
    size = model_bin.stat().st_size
    with model_bin.open("r+b") as handle:
        handle.truncate(1000)
    assert assemble_base(model_cache) / "model.bin" == model_bin
    assert model_bin.stat().st_size == size
    assert not list(model_bin.parent.glob("*.partial"))


def test_piper_speech_with_numbers_comes_back_as_the_same_words(
    transcriber: Transcriber, synthesizer: Synthesizer
) -> None:
    said = "It is 21 degrees today. The train leaves at 7. Your meeting is at 3 o'clock and takes 45 minutes."
    heard = transcriber.transcribe(spoken(synthesizer, said)).text
    assert {"21", "degrees", "train", "7", "meeting", "3", "45", "minutes"} <= set(words(heard)), heard


@pytest.mark.parametrize(
    ("name", "audio"),
    [
        ("silence", silence(2.0)),
        ("faint hiss", quiet_noise(2.0, 0.003)),
        ("room noise", quiet_noise(3.0, 0.03)),
        ("loud static", quiet_noise(3.0, 0.3)),
    ],
)
def test_silence_and_noise_give_an_empty_transcript_not_a_hallucination(
    transcriber: Transcriber, name: str, audio: np.ndarray
) -> None:
    transcript = transcriber.transcribe(audio)
    assert transcript.text == "", f"{name}: Whisper's guess was kept"


def test_dropped_guesses_are_reported(transcriber: Transcriber) -> None:
    """Which rule drops Whisper's guess on static depends on what it wrote: each drop must say why."""
    transcript = transcriber.transcribe(quiet_noise(3.0, 0.3, seed=0))
    assert transcript.text == ""
    reasons = transcript.dropped.split("; ")
    assert reasons != [""], "Whisper's guess was dropped without a word"
    assert all("no words" in reason or "no-speech" in reason for reason in reasons), transcript.dropped


@pytest.mark.parametrize(
    ("text", "no_speech", "logprob"),
    [
        (" Thank you.", 0.946, -1.41),  # tiny.en on loud static
        (" you", 0.95, -1.35),  # tiny.en on room noise
        (" I'm sorry.", 0.594, -1.61),  # base on faint pink noise: passes Whisper's own 0.6 rule
        (" Thank you.", 0.717, -0.6),  # a confident guess is still a guess when Whisper hears no speech
        (" . . .", 0.93, -1.03),
    ],
)
def test_known_hallucinations_on_measured_noise_are_dropped(text: str, no_speech: float, logprob: float) -> None:
    assert hallucination(text, no_speech, logprob)


@pytest.mark.parametrize(
    ("text", "no_speech", "logprob"),
    [
        (" Thank you.", 0.151, -0.12),  # tiny.en on Piper saying "Thank you."
        (" You.", 0.214, -0.99),  # base on Piper saying "You."
        (" I'm sorry.", 0.137, -0.13),
        (" Turn on the lights.", 0.55, -0.9),
    ],
)
def test_the_same_words_really_spoken_are_kept(text: str, no_speech: float, logprob: float) -> None:
    assert hallucination(text, no_speech, logprob) == ""


def test_a_user_who_says_thank_you_is_heard(transcriber: Transcriber, synthesizer: Synthesizer) -> None:
    transcript = transcriber.transcribe(np.concatenate([silence(0.3), spoken(synthesizer, "Thank you."), silence(0.3)]))
    assert words(transcript.text) == ["thank", "you"], transcript.dropped


async def test_async_transcription_leaves_the_event_loop_free(transcriber: Transcriber, jfk: np.ndarray) -> None:
    ticks = 0
    task = asyncio.ensure_future(transcriber.transcribe_async(jfk))
    while not task.done():
        ticks += 1
        await asyncio.sleep(0.01)
    assert word_error_rate(JFK_TEXT, (await task).text) <= 0.1
    assert ticks > 1, "the event loop was blocked while Whisper ran"


def test_a_file_that_is_not_audio_is_a_clear_error(transcriber: Transcriber, tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("these are not sounds")
    with pytest.raises(AudioFileError, match="notes.wav cannot be decoded as audio"):
        transcriber.transcribe_file(notes)
    with pytest.raises(AudioFileError, match="no such file"):
        transcriber.transcribe_file(tmp_path / "missing.flac")


def test_a_model_setting_that_is_neither_bundled_nor_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not a bundled model .*tiny.en, base"):
        Transcriber(STTSettings(model="large-v9")).transcribe(silence(0.5))
    with pytest.raises(ModelNotFound, match="model.bin, config.json missing"):
        Transcriber(STTSettings(model=str(tmp_path))).transcribe(silence(0.5))


@pytest.mark.parametrize(
    ("detected", "chosen"),
    [
        ([("pl", 0.45), ("en", 0.22), ("fi", 0.10)], "en"),  # noisy English, measured: a guess, not speech in Polish
        ([("de", 0.13), ("fi", 0.10), ("en", 0.08)], "en"),  # nothing is clear
        ([("de", 0.67), ("en", 0.06)], "de"),  # clearly German
        ([("es", 0.55), ("en", 0.30)], "en"),  # likelier, but not three times likelier than the person's language
        ([("en", 0.83), ("cy", 0.06)], "en"),
        ([], "en"),
    ],
)
def test_the_persons_language_is_kept_unless_the_speech_is_clearly_another(
    detected: list[tuple[str, float]], chosen: str
) -> None:
    assert choose_language("en", detected) == chosen


@pytest.mark.parametrize(
    ("locale_name", "language"), [("de_DE.UTF-8", "de"), ("en_US", "en"), ("C.UTF-8", "en"), ("", "en")]
)
def test_the_persons_language_comes_from_their_locale(
    monkeypatch: pytest.MonkeyPatch, locale_name: str, language: str
) -> None:
    monkeypatch.setattr("audio.stt.locale.getlocale", lambda category: (locale_name or None, None))
    monkeypatch.setenv("LANG", locale_name)
    assert locale_language() == language


@pytest.fixture(scope="module")
def base_any_language(model_cache: Path) -> Iterator[Transcriber]:
    """Whisper base with no language configured, in an English locale."""
    base = Transcriber(STTSettings(model="base"), cache_dir=model_cache)
    yield base
    base.close()


def test_noisy_english_is_heard_as_english_by_the_multilingual_model(
    base_any_language: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audio.stt.locale_language", lambda: "en")
    question = with_noise(other_voice("Set a timer for twenty five minutes.", "en-us"), snr_db=15, seed=1)
    transcript = base_any_language.transcribe(question)
    assert transcript.language == "en", "without the guard Whisper base writes this in Polish"
    assert {"timer", "minutes"} <= set(words(transcript.text)), transcript.text


def test_speech_clearly_in_another_language_is_still_heard_in_it(
    base_any_language: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audio.stt.locale_language", lambda: "en")
    transcript = base_any_language.transcribe(other_voice("¿Qué tiempo hace en Madrid mañana?", "es"))
    assert transcript.language == "es" and transcript.text.strip()


def test_the_language_the_caller_names_is_the_one_transcribed_not_whisper_s_guess(
    base_any_language: Transcriber,
) -> None:
    question = other_voice("¿Qué tiempo hace en Madrid mañana?", "es")
    assert base_any_language.transcribe(question, language="es").language == "es"
    assert base_any_language.transcribe(question, language="en").language == "en"


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("How many kilometres are there in 26 miles?", "How many kilometers are there in twenty-six miles?"),
        ("The dentist is next Thursday at 9 30.", "The dentist is next Thursday at 9.30."),
        ("The dentist is next Thursday at 9 30.", "The dentist is next Thursday at 9:30"),
        ("Send a message to Priya saying I'm running late.", "Send a message to Priya saying I am running late"),
        ("Turn the volume down to 30 percent.", "Turn the volume down to 30%."),
        ("Your meeting is at 3 o'clock.", "Your meeting is at three o'clock."),
    ],
)
def test_the_same_words_written_another_way_are_no_errors(said: str, written: str) -> None:
    assert word_error_rate(said, written) == 0.0


def test_wrong_missing_and_extra_words_are_errors() -> None:
    assert word_error_rate("Set a timer for 25 minutes.", "Set timer for 35 minutes, please.") == pytest.approx(3 / 6)
    assert word_error_rate("It is 3.5 degrees.", "It is 35 degrees.") == pytest.approx(1 / 4)
    assert word_error_rate("", "") == 0.0 and word_error_rate("", "you") == 1.0 and word_error_rate("Hello", "") == 1.0


CASCADE = STTSettings(model="tiny.en", fallback_model="base", fallback_below=-0.4)
MARGIN = 0.1
"""How far tiny.en's measured confidence must be from ``fallback_below`` for the test to mean something."""


@pytest.fixture(scope="module")
def cascade(model_cache: Path) -> Iterator[Transcriber]:
    """tiny.en first, Whisper base when tiny.en is unsure."""
    transcriber = Transcriber(CASCADE, cache_dir=model_cache)
    yield transcriber
    transcriber.close()


def test_warming_the_cascade_loads_and_runs_both_models(cascade: Transcriber) -> None:
    with whisper_decodes() as decodes:
        cascade.warm()
    assert [decode.multilingual for decode in decodes] == [False, True], "base would load on the first unsure question"


def test_an_unsure_first_answer_is_heard_again_by_the_fallback_model(cascade: Transcriber) -> None:
    question = np.concatenate([silence(0.3), other_voice("Set a timer for 25 minutes.", "en-gb"), silence(0.5)])
    with whisper_decodes() as decodes:
        transcript = cascade.transcribe(question)
    tiny, base = decodes
    assert not tiny.multilingual and base.multilingual
    assert tiny.confidence < CASCADE.fallback_below - MARGIN, "tiny.en was sure: this utterance tests nothing"
    assert base.confidence > tiny.confidence + MARGIN
    assert words(transcript.text) == ["set", "a", "timer", "for", "25", "minutes"], "tiny.en alone says 'Set timer'"


def test_a_sure_first_answer_is_given_without_asking_the_fallback_model(cascade: Transcriber) -> None:
    question = np.concatenate(
        [silence(0.3), other_voice("What's the weather like in Berlin tomorrow?", "en-us+f3"), silence(0.5)]
    )
    with whisper_decodes() as decodes:
        transcript = cascade.transcribe(question)
    assert [decode.multilingual for decode in decodes] == [False], "base listened although tiny.en was sure"
    assert decodes[0].confidence > CASCADE.fallback_below + MARGIN
    assert word_error_rate("What's the weather like in Berlin tomorrow?", transcript.text) == 0.0, transcript.text


def test_silence_is_not_heard_twice(cascade: Transcriber) -> None:
    with whisper_decodes() as decodes:
        transcript = cascade.transcribe(quiet_noise(2.0, 0.03))
    assert transcript.text == "" and len(decodes) == 1


def test_an_english_only_fallback_for_another_language_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="tiny.en understands English only"):
        STTSettings.model_validate({"model": "base", "fallback_model": "tiny.en", "language": "de"})


def test_an_empty_fallback_model_means_none() -> None:
    assert STTSettings.model_validate({"fallback_model": ""}).fallback_model is None


def test_the_default_is_tiny_en_with_base_as_fallback_and_base_chosen_alone_has_none() -> None:
    assert (STTSettings().model, STTSettings().fallback_model) == ("tiny.en", "base")
    assert STTSettings.model_validate({"model": "base"}).fallback_model is None
