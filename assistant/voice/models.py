"""The speech models the voice loop needs, loaded once and kept warm."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config

if TYPE_CHECKING:
    from audio import Synthesizer, Transcriber

    from ..session import Session


@dataclass
class SpeechModels:
    """Whisper (to hear) and Piper (to speak): loaded once, kept warm across turns."""

    transcriber: Transcriber
    synthesizer: Synthesizer

    @classmethod
    def from_config(cls, config: Config) -> SpeechModels:
        from audio import Synthesizer, Transcriber

        settings = config.audio_settings()
        return cls(Transcriber(settings.stt, cache_dir=settings.cache_dir), Synthesizer(settings.tts))

    async def warm(self, session: Session) -> None:
        """Load Whisper, Piper and the session's model together, so the first turn is as quick as the rest."""
        loading = [self.transcriber.warm_async(), self.synthesizer.warm_async()]
        load_model = getattr(session.provider, "load", None)
        if load_model is not None:
            loading.append(load_model())
        await asyncio.gather(*loading)

    def close(self) -> None:
        self.transcriber.close()
        self.synthesizer.close()
