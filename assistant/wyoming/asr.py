"""Speech to text for Wyoming: audio of any rate, width and channel count in, Whisper's text out.

Each ``audio-chunk`` is converted as it arrives (to mono float32, resampled
to 16 kHz with the stream resampler); ``live.LiveTranscription`` starts
Whisper on it while it still arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.resample import StreamResampler
from audio.stt import model_languages
from audio.types import SAMPLE_RATE

SAMPLE_WIDTHS = {1: "8-bit unsigned", 2: "16-bit signed", 4: "32-bit signed"}
MAX_CHANNELS = 8


class BadAudio(Exception):
    """Audio that cannot be understood as PCM; the message names the field and what is accepted."""

    def __init__(self, text: str, code: str = "bad-audio") -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def spoken_language(asked: object, model: str) -> str | None:
    """The Whisper language a ``transcribe`` asks for (``en-US`` and ``en_US`` are ``en``); None when it names
    none, so the configured one is used. ``BadAudio`` when ``model`` does not know it: Whisper made to write a
    language it never learnt writes another, and the client would take those words for a transcript."""
    if asked is None or asked == "":
        return None
    if not isinstance(asked, str):
        raise BadAudio(f"transcribe: language must be a language code such as 'en' or 'de-DE', not {asked!r}",
                       "bad-data")
    language = asked.replace("_", "-").split("-")[0].lower()
    known = model_languages(model)
    if language in known:
        return language
    if known == ["en"]:
        fix = "it knows only English; for other languages set audio.stt.model to a multilingual model (base)"
    else:
        fix = "Whisper has no such language; name it by its code (en, de, fr, ...)"
    raise BadAudio(f"transcribe: the speech model {model} cannot transcribe the language '{asked}': {fix}. "
                   "The audio that follows is transcribed in the configured language", "unknown-language")


@dataclass(frozen=True, slots=True)
class AudioFormat:
    rate: int
    width: int
    channels: int

    @classmethod
    def from_data(cls, event_type: str, data: dict) -> AudioFormat:
        """The format an ``audio-start`` or ``audio-chunk`` declares; ``BadAudio`` says what is missing or wrong."""
        missing = [key for key in ("rate", "width", "channels") if key not in data]
        if missing:
            raise BadAudio(f"{event_type} needs {', '.join(missing)} (e.g. rate 16000, width 2, channels 1)",
                           "missing-field")
        rate, width, channels = data["rate"], data["width"], data["channels"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rate, width, channels)):
            raise BadAudio(f"{event_type}: rate, width and channels must be whole numbers")
        if width not in SAMPLE_WIDTHS:
            accepted = ", ".join(f"{w} ({name})" for w, name in SAMPLE_WIDTHS.items())
            raise BadAudio(f"{event_type}: sample width {width} bytes is not supported; send {accepted}",
                           "bad-width")
        if not 1_000 <= rate <= 384_000:
            raise BadAudio(f"{event_type}: sample rate {rate} Hz is out of range; send 8000 to 384000 Hz")
        if not 1 <= channels <= MAX_CHANNELS:
            raise BadAudio(f"{event_type}: {channels} channels; send 1 to {MAX_CHANNELS}")
        return cls(rate, width, channels)

    def to_mono_float(self, pcm: bytes) -> np.ndarray:
        frame_bytes = self.width * self.channels
        if len(pcm) % frame_bytes:
            raise BadAudio(
                f"audio-chunk holds {len(pcm)} bytes, not a whole number of {frame_bytes}-byte frames "
                f"({self.channels} channels of {self.width} bytes)"
            )
        if self.width == 1:
            samples = (np.frombuffer(pcm, np.uint8).astype(np.float32) - 128.0) / 128.0
        elif self.width == 2:
            samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
        else:
            samples = np.frombuffer(pcm, "<i4").astype(np.float32) / 2147483648.0
        return samples.reshape(-1, self.channels).mean(axis=1)


class AudioConverter:
    """One ``audio-start`` … ``audio-stop`` stream's chunks as 16 kHz mono float32, one chunk at a time."""

    def __init__(self, audio_format: AudioFormat) -> None:
        self.format = audio_format
        self._resampler = StreamResampler(audio_format.rate, SAMPLE_RATE) if audio_format.rate != SAMPLE_RATE else None

    def convert(self, chunk_format: AudioFormat, pcm: bytes) -> np.ndarray:
        """One chunk at 16 kHz mono; ``BadAudio`` when its format differs from ``audio-start``'s."""
        if chunk_format != self.format:
            raise BadAudio(
                f"audio-chunk is {_describe(chunk_format)} but audio-start said {_describe(self.format)}; "
                "keep one format per stream", "format-changed"
            )
        mono = self.format.to_mono_float(pcm)
        return self._resampler.convert(mono) if self._resampler is not None else mono

    def flush(self) -> np.ndarray:
        """What the resampler still held, at the end of the stream."""
        return self._resampler.flush() if self._resampler is not None else np.zeros(0, np.float32)


class Recording:
    """One stream kept whole, as 16 kHz mono float32 for Whisper."""

    def __init__(self, audio_format: AudioFormat, max_seconds: float) -> None:
        self.format = audio_format
        self._converter = AudioConverter(audio_format)
        self._max_samples = round(max_seconds * SAMPLE_RATE)
        self._max_seconds = max_seconds
        self._pieces: list[np.ndarray] = []
        self._samples = 0

    @property
    def samples(self) -> int:
        return self._samples

    def add(self, chunk_format: AudioFormat, pcm: bytes) -> np.ndarray:
        """Convert and keep one chunk, returning it at 16 kHz mono; ``BadAudio`` when it differs from
        ``audio-start`` or the recording grows too long."""
        converted = self._converter.convert(chunk_format, pcm)
        if self._samples + converted.size > self._max_samples:
            raise BadAudio(f"the recording is longer than {self._max_seconds:g} s (wyoming.max_audio_seconds); "
                           "send audio-stop sooner", "too-long")
        self._pieces.append(converted)
        self._samples += converted.size
        return converted

    def flush(self) -> np.ndarray:
        """What the resampler still held, at the end of the stream (kept, and returned)."""
        tail = self._converter.flush()
        self._pieces.append(tail)
        self._samples += tail.size
        return tail

    def audio(self) -> np.ndarray:
        """The audio so far, 16 kHz mono float32."""
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return self._pieces[0] if self._pieces else np.zeros(0, np.float32)


def _describe(audio_format: AudioFormat) -> str:
    return f"{audio_format.rate} Hz, {audio_format.width} bytes, {audio_format.channels} channels"
