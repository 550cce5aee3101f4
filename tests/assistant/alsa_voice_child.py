"""One spoken turn through the voice loop on whatever sound devices ALSA provides (a child of test_voice).

    python -m tests.assistant.alsa_voice_child DATA_DIR MODEL_PATH

Prints one JSON line: what was heard, the reply, and the latency report.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from assistant.config import load_config
from assistant.session import Session
from assistant.voice.cli import latency_report
from assistant.voice.events import Heard
from assistant.voice.loop import VoiceLoop
from assistant.voice.models import SpeechModels
from audio import SoundDeviceInput, SoundDeviceOutput


async def main(data_dir: str, model_path: str) -> dict[str, object]:
    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml", {
        "data_dir": data_dir, "llm.local.model_path": model_path, "llm.local.temperature": 0.0,
    })
    session = Session(config)
    ears = SpeechModels.from_config(config)
    heard: list[str] = []
    await ears.warm(session)
    microphone = SoundDeviceInput(config.audio.input_device)
    speaker = SoundDeviceOutput(config.audio.output_device, sample_rate=ears.synthesizer.sample_rate)
    try:
        loop = VoiceLoop.from_config(
            config, session, ears, microphone, speaker,
            lambda event: heard.append(event.text) if isinstance(event, Heard) else None,
        )
        turns = await loop.run(max_turns=1)
    finally:
        await microphone.close()
        await speaker.close()
        ears.close()
        await session.close()
    return {"heard": heard, "turns": [latency_report(turn) for turn in turns]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
