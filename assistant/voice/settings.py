"""The `voice:` section of config.yaml: how the voice loop takes turns."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..settings import Section


class VoiceSettings(Section):
    """The `voice:` section of config.yaml: how the loop takes turns."""

    early_start: bool = Field(default=True, description="answer during the end-of-turn silence")
    barge_in: bool = Field(default=True, description="the person's speech stops the assistant's")
    barge_in_threshold: float = Field(
        default=0.8, gt=0, lt=1, description="speech probability needed to interrupt (stricter than vad.threshold)"
    )
    echo_overlap: float = Field(
        default=0.7, gt=0, le=1, description="share of heard words found in our own recent speech that marks an echo"
    )
    mode: Literal["hands_free", "push_to_talk"] = "hands_free"
    first_chunk_limit_ms: int = Field(
        default=500, ge=0,
        description="longest wait for the first speakable boundary before speaking up to the last space; 0 = none",
    )
