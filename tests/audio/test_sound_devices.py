"""The real sounddevice code over ALSA's ``file`` plugin: a WAV is the microphone, a file the speaker.

The devices are ordinary ALSA PCMs (tests/alsa_card.py writes their
configuration), so the program's own sounddevice/PortAudio path runs unchanged. Each test runs in a child
process (tests/audio/alsa_child.py) because PortAudio reads the ALSA
configuration only once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from audio.stt import Transcriber
from audio.tts import Synthesizer
from audio.types import SAMPLE_RATE
from tests.alsa_card import FileSoundCard
from tests.audio.speech import JFK_TEXT, silence
from tests.wer import word_error_rate, words

REPO = Path(__file__).resolve().parents[2]


def test_the_microphone_hears_a_spoken_sentence(
    sound_card: FileSoundCard, jfk: np.ndarray, transcriber: Transcriber, tmp_path: Path
) -> None:
    sound_card.speak_into_mic(np.concatenate([silence(0.5), jfk, silence(2.0)]))
    result = sound_card.run("tests.audio.alsa_child", "listen", str(tmp_path / "utterance.npy"))
    assert result["overflows"] == 0
    heard = transcriber.transcribe(np.load(tmp_path / "utterance.npy")).text
    assert word_error_rate(JFK_TEXT, heard) <= 0.1, heard


def test_the_speaker_says_the_reply(
    sound_card: FileSoundCard, synthesizer: Synthesizer, transcriber: Transcriber
) -> None:
    said = "It is 21 degrees. Tomorrow brings rain, about 30 millimetres."
    result = sound_card.run("tests.audio.alsa_child", "say", said)
    audio = sound_card.speaker_audio(synthesizer.sample_rate)
    assert len(audio) / SAMPLE_RATE >= result["seconds"] > 3.0, "not all of the reply reached the speaker"
    heard = transcriber.transcribe(audio).text
    assert {"21", "degrees", "tomorrow", "rain", "30"} <= set(words(heard)), heard


def test_without_portaudio_the_program_still_reads_text_and_says_how_to_get_voice() -> None:
    script = """
import ctypes.util
real = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "portaudio" in name else real(name)
import audio
from audio import AudioUnavailable, SpeechChunker, SoundDeviceInput, check_audio, portaudio_available
assert not portaudio_available()
assert SpeechChunker().feed("Typing still works. Yes") == ["Typing still works."]
try:
    SoundDeviceInput()
except AudioUnavailable as error:
    print(error)
print(check_audio()[-1].fix)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    error, doctor_fix = done.stdout.strip().splitlines()
    assert "PortAudio is missing: sudo apt-get install libportaudio2" in error
    assert doctor_fix.startswith("sudo apt-get install libportaudio2")
