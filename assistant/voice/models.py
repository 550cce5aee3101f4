"""The models the voice loop needs, loaded once and warmed before the microphone opens.

A model's first use is slow (Whisper's first decode, the wake-word model's
first step: 0.4 s, the turn model's first inference), so every one of them
is run once on silence during ``warm``: the person's first question is
answered as quickly as their tenth.

The language model, when it runs in-process, is warmed with them
(``Session.warm_model``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import Config

if TYPE_CHECKING:
    from audio import Synthesizer, Transcriber
    from audio.settings import TurnSettings
    from audio.turn import TurnDetector
    from audio.wakeword import WakeWordDetector

    from ..session import Session

WarmProgress = Callable[[str, int, int], None]
"""Told ``(name, ready, total)`` each time one model is ready, e.g. ("speech recognition", 2, 4)."""


@dataclass
class SpeechModels:
    """Whisper (to hear), Piper (to speak), the end-of-turn and wake-word models, kept warm across turns."""

    transcriber: Transcriber
    synthesizer: Synthesizer
    turn_settings: TurnSettings | None = None
    """The end-of-turn model's settings; None when it is switched off, and then it is not warmed."""
    wake_word_model: str | None = None
    """A bundled wake-word model to listen for; None when none is configured."""
    wake_threshold: float = 0.5
    warm_ms: dict[str, float] = field(default_factory=dict)
    """When each model was loaded and run once, in ms after ``warm`` began (they load together), by name."""
    _turn: TurnDetector | None = field(default=None, init=False, repr=False)
    _wake_word: WakeWordDetector | None = field(default=None, init=False, repr=False)
    _warm: bool = field(default=False, init=False, repr=False)

    @classmethod
    def from_config(cls, config: Config) -> SpeechModels:
        from audio import Synthesizer, Transcriber
        from audio.settings import WAKE_WORD_MODELS

        settings = config.audio_settings()
        voice = config.voice
        wake_model = voice.wake_word if voice.mode == "wake_word" and voice.wake_word in WAKE_WORD_MODELS else None
        return cls(
            Transcriber(settings.stt, cache_dir=settings.cache_dir),
            Synthesizer(settings.tts),
            turn_settings=settings.turn if settings.turn.enabled else None,
            wake_word_model=wake_model,
            wake_threshold=voice.wake_threshold,
        )

    def turn_detector(self) -> TurnDetector:
        """The end-of-turn model, loaded on first use (``warm`` does it on a worker thread)."""
        if self._turn is None:
            from audio.settings import TurnSettings
            from audio.turn import TurnDetector

            self._turn = TurnDetector(self.turn_settings or TurnSettings())
            self._turn.warm()
        return self._turn

    def wake_word_detector(self, model: str | None = None, threshold: float | None = None) -> WakeWordDetector:
        """A wake-word model with no audio heard yet: the configured one, loaded once, unless another is asked for."""
        import numpy as np

        from audio import SAMPLE_RATE
        from audio.wakeword import WakeWordDetector

        model = model or self.wake_word_model
        if model is None:
            raise ValueError("no wake-word model is configured (voice.mode: wake_word with a bundled voice.wake_word)")
        if self._wake_word is None or self._wake_word.model != model:
            if self._wake_word is not None:
                self._wake_word.close()
            self._wake_word = WakeWordDetector(model, self.wake_threshold)
            self._wake_word.feed(np.zeros(SAMPLE_RATE, np.float32))  # its first step is slow: taken now
        self._wake_word.threshold = self.wake_threshold if threshold is None else threshold
        self._wake_word.reset()
        return self._wake_word

    async def warm(self, session: Session, progress: WarmProgress | None = None) -> None:
        """Load and run every model once, together, so the first turn is as quick as the rest.

        Later calls only make sure the session's model is loaded (the backend may have changed).
        """
        loading: dict[str, Awaitable[object]] = {}
        if not self._warm:
            loading["speech recognition"] = self.transcriber.warm_async()
            loading["voice"] = self.synthesizer.warm_async()
            if self.turn_settings is not None:
                loading["end-of-turn model"] = asyncio.to_thread(self.turn_detector)
            if self.wake_word_model is not None:
                loading["wake word"] = asyncio.to_thread(self.wake_word_detector)
        if session.model_is_in_process:
            loading["language model"] = session.warm_model()
        started = time.perf_counter()

        async def timed(name: str, work: Awaitable[object]) -> str:
            await work
            self.warm_ms[name] = round((time.perf_counter() - started) * 1000, 1)
            return name

        pending = [asyncio.ensure_future(timed(name, work)) for name, work in loading.items()]
        try:
            for ready, finished in enumerate(asyncio.as_completed(pending), 1):
                name = await finished
                if progress is not None:
                    progress(name, ready, len(pending))
        finally:
            for task in pending:
                task.cancel()
        self._warm = True

    def close(self) -> None:
        self.transcriber.close()
        self.synthesizer.close()
        if self._wake_word is not None:
            self._wake_word.close()
