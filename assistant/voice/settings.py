"""The `voice:` section of config.yaml: how the voice loop takes turns."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..settings import Section


class VoiceSettings(Section):
    """The `voice:` section of config.yaml: how the loop takes turns."""

    early_start: bool = Field(default=True, description="answer during the end-of-turn silence")
    barge_in: bool = Field(default=True, description="the person's speech stops the assistant's")
    barge_in_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="speech probability (on the echo-free signal) needed to interrupt"
    )
    echo_overlap: float = Field(
        default=0.7, gt=0, le=1, description="share of heard words found in our own recent speech that marks an echo"
    )
    barge_in_ms: int = Field(
        default=160, ge=32, description="speech over the answer, this long above barge_in_threshold, stops it"
    )
    mode: Literal["hands_free", "push_to_talk", "wake_word"] = Field(
        default="hands_free",
        description="hands_free: every utterance is a turn; push_to_talk: after the talk key; wake_word: when called",
    )
    wake_word: str = Field(
        default="hey_jarvis",
        description="a bundled model (alexa, hey_jarvis, hey_mycroft, okay_nabu, hey_rhasspy) or a name, e.g. rosey",
    )
    wake_threshold: float = Field(default=0.5, gt=0, lt=1, description="wake-word model score that counts as called")
    follow_up_s: float = Field(
        default=8.0, ge=0, description="after an answer, this long to go on without the wake word"
    )
    first_chunk_limit_ms: int = Field(
        default=500, ge=0,
        description="longest wait for the first speakable boundary before speaking up to the last space; 0 = none",
    )

    @field_validator("wake_word")
    @classmethod
    def _a_word_to_wait_for(cls, wake_word: str) -> str:
        wake_word = wake_word.strip()
        if not wake_word:
            raise ValueError("name a wake word: alexa, hey_jarvis, hey_mycroft, okay_nabu, hey_rhasspy, or a name")
        return wake_word
