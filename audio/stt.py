"""Speech to text with faster-whisper, loaded once and kept warm.

Whisper runs on one worker thread per ``Transcriber``: decoding blocks for
hundreds of milliseconds, which must never stall the event loop, and one
thread means the model is never used concurrently.

Whisper invents text for silence and noise ("Thank you.", "you", "I'm
sorry."), and a voice assistant would answer it. ``hallucination`` throws
such segments away using the signals Whisper gives: its own probability
that the audio holds no speech and how sure it was of the words.
Whisper's built-in variant of the rule is switched off so that ours is the
only one and every drop is reported in ``Transcript.dropped``. With it goes
the re-decoding of unsure segments at higher temperatures: on a short
command it cost up to five extra decodes of noise and did not improve the
words; repetition loops are still re-decoded (compression-ratio rule).

A multilingual model with no language configured guesses the language of
each utterance, and on noisy or accented English it guesses wrong (measured
with Whisper base on espeak-ng voices at 15 dB SNR: Polish at 0.45, German
at 0.13, Bengali at 0.30, each time writing every word wrong). So the
person's own language (their locale) is used unless the speech is clearly
another one: detected with probability ``CLEARLY_ANOTHER_LANGUAGE`` or more
and ``LIKELIER_THAN_PREFERRED`` times likelier than the locale's language
(real German, Spanish and Dutch speech measured 0.67-0.79, against 0.06 or
less for English).

Two models can share the work (``audio.stt.fallback_model``): the quick one
answers alone when it is sure of its words, and only when its confidence (the
mean log-probability of its words) is below ``fallback_below`` does the
second listen too; the answer is the one whose model was surer. Measured on
voices the project never tuned on, neither model is right everywhere, and
the surer one is right more often than either (bench/stt_models.py).
"""

from __future__ import annotations

import asyncio
import locale
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import AudioFileError, ModelNotFound
from .models import whisper_model_dir
from .settings import STTSettings
from .types import SAMPLE_RATE, Transcript

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

KNOWN_HALLUCINATIONS = frozenset(
    {
        "you", "thank you", "thank you so much", "thank you very much", "thanks", "thanks for watching",
        "thank you for watching", "thanks for listening", "thank you for listening", "please subscribe",
        "bye", "goodbye", "bye bye", "i'm sorry", "i don't know", "so", "okay", "oh", "uh", "um", "hmm",
        "the end", "subtitles by the amara.org community", "sous-titres réalisés par la communauté d'amara.org",
        "untertitel im auftrag des zdf, 2017", "untertitel der amara.org-community", "ご視聴ありがとうございました",
    }
)
"""What Whisper is known to write for silence, breath or noise, lower case without end punctuation."""

NO_SPEECH_LIKELY = 0.5
"""Whisper's no-speech probability above which an unsure segment is silence (Whisper's own rule uses 0.6)."""
UNSURE_LOGPROB = -1.0
"""Mean token log-probability below which Whisper was guessing."""
KNOWN_PHRASE_NO_SPEECH = 0.35
"""A known hallucination is dropped from this no-speech probability on (real short phrases measured <= 0.22)."""


CLEARLY_ANOTHER_LANGUAGE = 0.5
"""Probability from which a detected language other than the person's own is believed."""
LIKELIER_THAN_PREFERRED = 3.0
"""How many times likelier than the person's own language that other language must be."""


def choose_language(preferred: str, detected: list[tuple[str, float]]) -> str:
    """The language to transcribe in: ``preferred`` unless ``detected`` (language, probability) clearly says another."""
    if not detected:
        return preferred
    language, probability = max(detected, key=lambda item: item[1])
    preferred_probability = dict(detected).get(preferred, 0.0)
    if (
        language != preferred
        and probability >= CLEARLY_ANOTHER_LANGUAGE
        and probability >= LIKELIER_THAN_PREFERRED * preferred_probability
    ):
        return language
    return preferred


def model_languages(model: str) -> list[str]:
    """The languages a Whisper model transcribes: English for an ``.en`` model, else every one Whisper knows."""
    if model.endswith(".en"):
        return ["en"]
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return list(_LANGUAGE_CODES)


def locale_language() -> str:
    """The person's language from their locale (``de_DE.UTF-8`` -> ``de``); English when the locale says none."""
    name = locale.getlocale(locale.LC_MESSAGES)[0] or os.environ.get("LANG", "")
    code = name.split("_")[0].split(".")[0].lower()
    return code if code.isalpha() and len(code) in (2, 3) and code not in ("c", "posix") else "en"


def hallucination(text: str, no_speech_prob: float, avg_logprob: float) -> str:
    """Why a segment Whisper wrote is not speech, or "" to keep it."""
    if not any(char.isalnum() for char in text):
        return "no words, only punctuation" if text.strip() else ""
    if no_speech_prob > NO_SPEECH_LIKELY and avg_logprob < UNSURE_LOGPROB:
        return f"'{text.strip()}' is a guess on silence (no-speech {no_speech_prob:.2f})"
    phrase = re.sub(r"[\s.!?,…]+$", "", text.strip().lower())
    if phrase in KNOWN_HALLUCINATIONS and no_speech_prob >= KNOWN_PHRASE_NO_SPEECH:
        return f"'{text.strip()}' is what Whisper writes for silence or noise (no-speech {no_speech_prob:.2f})"
    return ""


@dataclass(frozen=True)
class _Heard:
    """One model's reading of an utterance."""

    model: str
    text: str
    language: str
    dropped: str
    confidence: float
    """The lowest mean token log-probability of a kept segment; 0.0 when nothing was kept."""


class Transcriber:
    """A Whisper model, and the fallback model if one is configured, on one worker thread."""

    def __init__(self, settings: STTSettings | None = None, cache_dir: Path | None = None) -> None:
        self.settings = settings or STTSettings()
        self.cache_dir = cache_dir
        self._models: dict[str, WhisperModel] = {}
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")

    def warm(self) -> None:
        """Load every model and decode a moment of silence with each: the first question is answered at full speed."""
        silence = np.zeros(SAMPLE_RATE // 2, np.float32)
        with self._lock:
            for name in filter(None, (self.settings.model, self.settings.fallback_model)):
                self._hear(name, silence, self._fixed_language(name, None))

    async def warm_async(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._worker, self.warm)

    def transcribe(self, pcm: np.ndarray, language: str | None = None) -> Transcript:
        """Mono float32 audio at 16 kHz to text.

        ``language`` (a Whisper code) is the language of this utterance when the caller knows it (a Wyoming
        client names its user's language), over the configured one; an English-only model stays English."""
        audio = np.asarray(pcm, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return Transcript(text="", audio_seconds=0.0, seconds=0.0, dropped="no audio")
        with self._lock:
            started = time.perf_counter()
            heard = self._hear(self.settings.model, audio, self._fixed_language(self.settings.model, language))
            if self.settings.fallback_model and heard.text and heard.confidence < self.settings.fallback_below:
                second = self._hear(self.settings.fallback_model, audio, heard.language)
                if second.text and second.confidence > heard.confidence:
                    heard = second
            seconds = time.perf_counter() - started
        return Transcript(
            text=heard.text,
            audio_seconds=len(audio) / SAMPLE_RATE,
            seconds=seconds,
            language=heard.language,
            dropped=heard.dropped,
            model=heard.model,
        )

    def transcribe_file(self, path: str | Path) -> Transcript:
        """Any file FFmpeg reads (wav, flac, mp3, ogg, m4a ...) to text."""
        return self.transcribe(read_audio(path))

    async def transcribe_async(self, pcm: np.ndarray, language: str | None = None) -> Transcript:
        return await asyncio.get_running_loop().run_in_executor(self._worker, self.transcribe, pcm, language)

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _fixed_language(self, model: str, asked: str | None) -> str | None:
        """English for an English-only model, else the language asked for or configured; None lets Whisper
        detect it."""
        return "en" if model.endswith(".en") else asked or self.settings.language

    def _hear(self, model_name: str, audio: np.ndarray, language: str | None) -> _Heard:
        """What one model heard, with Whisper's guesses on silence and noise taken out."""
        model = self._load(model_name)
        segments, info = self._decode(model, audio, language)
        if info.all_language_probs:
            chosen = choose_language(locale_language(), info.all_language_probs)
            if chosen != info.language:  # nothing decoded yet: segments are produced lazily
                segments, info = self._decode(model, audio, chosen)
        kept, reasons = [], []
        for segment in segments:
            if reason := hallucination(segment.text, segment.no_speech_prob, segment.avg_logprob):
                reasons.append(reason)
            else:
                kept.append(segment)
        return _Heard(
            model=model_name,
            text=" ".join(segment.text.strip() for segment in kept),
            language=info.language,
            dropped="; ".join(reasons),
            confidence=min((segment.avg_logprob for segment in kept), default=0.0),
        )

    def _decode(self, model: WhisperModel, audio: np.ndarray, language: str | None) -> tuple:
        """Whisper's lazy segments and its info; with no ``language`` the info holds what it detected."""
        return model.transcribe(
            audio,
            beam_size=self.settings.beam_size,
            language=language,
            initial_prompt=self.settings.initial_prompt,
            condition_on_previous_text=False,
            without_timestamps=True,
            no_speech_threshold=None,
            log_prob_threshold=None,
        )

    def _load(self, name: str) -> WhisperModel:
        if name not in self._models:
            from faster_whisper import WhisperModel

            model_dir = whisper_model_dir(name, self.cache_dir)
            try:
                self._models[name] = WhisperModel(
                    str(model_dir),
                    device="cpu",
                    compute_type=self.settings.compute_type,
                    cpu_threads=self.settings.cpu_threads or os.cpu_count() or 1,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise ModelNotFound(f"cannot load the Whisper model in {model_dir}: {exc}") from None
        return self._models[name]


def read_audio(path: str | Path) -> np.ndarray:
    """A file decoded to mono float32 at 16 kHz, with errors that say what is wrong with the file."""
    import av
    from faster_whisper.audio import decode_audio

    path = Path(path).expanduser()
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioFileError(
            f"{path} cannot be decoded as audio ({exc}); give a wav, flac, mp3 or ogg file"
        ) from None
