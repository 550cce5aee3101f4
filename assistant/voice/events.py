"""What the voice loop reports while it runs, for whichever face shows it.

Besides these, the loop passes on the turn events (``assistant.events``) of
the answer it is speaking, once the answer is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..events import TurnEvent


@dataclass(frozen=True, slots=True)
class Listening:
    """The microphone is open and nobody is speaking; ``wake_word`` is set while only it starts a turn."""

    wake_word: str | None = None


@dataclass(frozen=True, slots=True)
class WakeWordHeard:
    """The person called the assistant: what they say now is a turn."""

    wake_word: str


@dataclass(frozen=True, slots=True)
class Hearing:
    """The person is speaking."""


@dataclass(frozen=True, slots=True)
class HeardSoFar:
    """The person's words until their last pause, while they may still go on; ``Heard`` replaces them."""

    text: str


@dataclass(frozen=True, slots=True)
class Heard:
    """The person's words, as the next turn."""

    text: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Something was heard but is not a turn.

    ``reason``: "noise", "own voice", "no wake word", or "wake word" (the call
    alone: what comes next is the turn).
    """

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Speaking:
    """The first audio of an answer went to the speaker."""


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The person spoke over the answer; ``spoken`` is what they heard of it."""

    spoken: str


@dataclass(slots=True)
class Latency:
    """One spoken turn's timeline, in milliseconds; ``first_audio_ms`` runs from the true end of speech."""

    transcript: str = ""
    reply: str = ""
    first_audio_ms: float | None = None
    endpoint_wait_ms: float = 0.0
    stt_ms: float = 0.0
    stt_model: str = ""
    """The Whisper model whose words were taken (the fallback when the first was unsure and it was surer)."""
    ttft_ms: float | None = None
    first_chunk_ms: float | None = None
    tts_first_ms: float | None = None
    early_start: bool = False
    turn_probability: float | None = None
    """The end-of-turn model's probability that the person had finished (None: it was not asked)."""
    ended_by: str = "silence"
    """What ended the person's turn: "silence" (``audio.vad.min_silence_ms``) or "turn model" (sooner)."""
    interrupted: bool = False
    barge_in_ms: float | None = None
    """For an interrupted answer: from the start of the speech that stopped it to its last sample played."""
    erle_db: float | None = None
    """How much of the answer's echo the echo canceller removed."""
    echo_delay_ms: float | None = None
    """How long the answer took from the speaker to the microphone, as the canceller measured it."""

    @property
    def stages_ms(self) -> float:
        """The stages end to end, as a strictly sequential pipeline would take them."""
        parts = (self.endpoint_wait_ms, self.stt_ms, self.ttft_ms, self.first_chunk_ms, self.tts_first_ms)
        return sum(part or 0.0 for part in parts)


VoiceEvent = Listening | WakeWordHeard | Hearing | HeardSoFar | Heard | Ignored | Speaking | Interrupted | Latency
EventSink = Callable[[VoiceEvent | TurnEvent], None]
"""Where the loop reports: its own events, and the events of the turn it is answering."""
