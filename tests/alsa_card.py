"""A sound card made of files: ALSA's ``file`` plugin as microphone and speaker.

PortAudio reads the ALSA configuration once, when sounddevice is first
imported, so code that uses the card runs in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from audio.resample import resample
from audio.types import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[1]

SYSTEM_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")

ASOUNDRC = """\
pcm.!default {{
  type asym
  playback.pcm {{ type file slave.pcm "null" file "{speaker}" format "raw" }}
  capture.pcm  {{ type file slave.pcm "null" file "/dev/null" infile "{mic}" format "raw" }}
}}
pcm.null {{ type null }}
"""


class FileSoundCard:
    """An ALSA configuration whose microphone plays ``mic.raw`` and whose speaker records ``speaker.raw``."""

    def __init__(self, directory: Path) -> None:
        self.mic = directory / "mic.raw"
        self.speaker = directory / "speaker.raw"
        self.config = directory / "asoundrc"
        self.config.write_text(ASOUNDRC.format(mic=self.mic, speaker=self.speaker))
        self.mic.write_bytes(b"")

    def speak_into_mic(self, pcm: np.ndarray) -> None:
        """Signed 16-bit little-endian mono at 16 kHz, the rate the program opens the microphone with."""
        (np.clip(pcm, -1, 1) * 32767).astype("<i2").tofile(self.mic)

    def speaker_audio(self, rate: int) -> np.ndarray:
        return resample(np.fromfile(self.speaker, "<i2").astype(np.float32) / 32768, rate, SAMPLE_RATE)

    def run(self, module: str, *args: str, timeout: float = 120) -> dict[str, object]:
        """Run ``python -m module args`` with this card as ALSA's default; its last stdout line is JSON."""
        environment = {
            **os.environ,
            "ALSA_CONFIG_PATH": f"{SYSTEM_ALSA_CONF}:{self.config}",
            "PYTHONPATH": str(REPO),
        }
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
