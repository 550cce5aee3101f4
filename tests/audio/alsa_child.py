"""Runs audio code against whatever sound devices ALSA is configured with (a child of test_sound_devices).

PortAudio reads the ALSA configuration once, when sounddevice is first
imported, so each device test runs this in a fresh process whose
ALSA_CONFIG_PATH points at files instead of a sound card.

    python -m tests.audio.alsa_child listen UTTERANCE.npy   mic -> endpointer -> first utterance saved
    python -m tests.audio.alsa_child say "TEXT"             audio.say: synthesizer -> speaker
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np

from audio.commands import say
from audio.devices import SoundDeviceInput
from audio.settings import AudioSettings, VADSettings
from audio.vad import Endpointer, SpeechEnded


async def listen(destination: str) -> dict[str, object]:
    endpointer = Endpointer(VADSettings(min_silence_ms=1500))
    mic = SoundDeviceInput()
    frames = 0
    async for frame in mic:
        frames += 1
        turns = [event for event in endpointer.feed(frame) if isinstance(event, SpeechEnded)]
        if turns:
            np.save(destination, turns[0].pcm)
            break
    await mic.close()
    return {"frames": frames, "overflows": mic.overflows}


async def main() -> None:
    mode, argument = sys.argv[1], sys.argv[2]
    if mode == "listen":
        result = await listen(argument)
    else:
        result = {"seconds": await say(argument, AudioSettings())}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
