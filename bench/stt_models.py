"""Speech recognition accuracy and speed of the bundled Whisper models on speech the project never tuned on.

    .venv/bin/python bench/stt_models.py            # needs espeak-ng and sox (apt-get install espeak-ng sox)

The default model must be chosen on voices other than the one the program
speaks with: on its own Piper voice tiny.en looks best, elsewhere it is not.
So every question is spoken by six espeak-ng voices (US, UK, Scottish,
Caribbean English, male and female) and by the bundled Piper voice shifted
in pitch and speed with sox (another speaker, as far as Whisper can tell),
plus the JFK recording; each clean, with white noise at 15 dB SNR, and in a
reverberant room (sox ``reverb``). The unshifted Piper voice is reported
apart, as the number not to choose by.

Word error rates are means over every utterance (espeak-ng and the seeded
Piper voice say a sentence the same way every run, so one round is enough);
times are medians per utterance, measured with the models alternating on
a shared, noisy machine: compare them within the run.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

import numpy as np
import onnxruntime
import soundfile

from audio.settings import STTSettings
from audio.stt import Transcriber, read_audio
from audio.tts import Synthesizer
from audio.types import SAMPLE_RATE
from audio.wer import word_error_rate
from tests.audio.speech import JFK_PATH, JFK_TEXT, espeak, silence, spoken, with_noise

QUESTIONS = [
    "What's the weather like in Berlin tomorrow?",
    "Set a timer for 25 minutes.",
    "How many kilometres are there in 26 miles?",
    "Who wrote the novel Pride and Prejudice?",
    "Turn the volume down to 30 percent.",
    "How far is the Moon from the Earth?",
    "Send a message to Priya saying I'm running late.",
    "Schedule a dentist appointment for next Thursday at 9 30.",
]
ESPEAK_VOICES = ["en-us", "en-us+f3", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp+f2"]
PIPER_VARIANTS = {"piper pitch -300, tempo 0.9": ["pitch", "-300", "tempo", "0.9"],
                  "piper pitch +400, tempo 1.15": ["pitch", "400", "tempo", "1.15"]}
CONDITIONS = ("clean", "noise 15 dB", "reverb")
CONFIGURATIONS = [
    ("tiny.en", 1, None), ("tiny.en", 5, None), ("base", 1, None), ("base", 5, None), ("base", 5, "en"),
]
"""(model, beam, language): base with no language uses the locale guard (English here)."""


@dataclass(frozen=True)
class Utterance:
    voice: str
    condition: str
    text: str
    pcm: np.ndarray


def sox(pcm: np.ndarray, *effects: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.wav", Path(folder) / "out.wav"
        soundfile.write(source, pcm, SAMPLE_RATE, subtype="PCM_16")
        subprocess.run(["sox", "-V1", str(source), str(target), *effects, "rate", str(SAMPLE_RATE)], check=True)
        return read_audio(target)


def in_condition(pcm: np.ndarray, condition: str, seed: int) -> np.ndarray:
    padded = np.concatenate([silence(0.3), pcm, silence(0.5)])
    if condition == "noise 15 dB":
        return with_noise(padded, 15, seed)
    if condition == "reverb":
        return sox(padded, "gain", "-6", "reverb", "70", "50", "100", "gain", "-n", "-3")
    return padded


def material() -> tuple[list[Utterance], list[Utterance]]:
    """(other voices, the bundled voice itself), every question in every condition."""
    onnxruntime.set_seed(0)
    synthesizer = Synthesizer()
    own = {q: spoken(synthesizer, q) for q in QUESTIONS}
    synthesizer.close()
    voices: dict[str, dict[str, np.ndarray]] = {v: {q: espeak(q, v) for q in QUESTIONS} for v in ESPEAK_VOICES}
    for name, effects in PIPER_VARIANTS.items():
        voices[name] = {q: sox(pcm, *effects) for q, pcm in own.items()}
    others, ours = [], []
    for condition in CONDITIONS:
        for seed, (voice, said) in enumerate(voices.items()):
            others += [Utterance(voice, condition, q, in_condition(pcm, condition, seed)) for q, pcm in said.items()]
        others.append(Utterance("jfk.flac", condition, JFK_TEXT, in_condition(read_audio(JFK_PATH), condition, 99)))
        ours += [Utterance("piper (ours)", condition, q, in_condition(pcm, condition, 7)) for q, pcm in own.items()]
    return others, ours


def measure(cache: Path) -> None:
    others, ours = material()
    transcribers = {
        config: Transcriber(STTSettings(model=config[0], beam_size=config[1], language=config[2]), cache_dir=cache)
        for config in CONFIGURATIONS
    }
    for transcriber in transcribers.values():
        transcriber.warm()
    errors: dict[tuple, list[tuple[Utterance, float]]] = {config: [] for config in CONFIGURATIONS}
    seconds: dict[tuple, list[float]] = {config: [] for config in CONFIGURATIONS}
    for utterance in others + ours:
        for config, transcriber in transcribers.items():
            transcript = transcriber.transcribe(utterance.pcm)
            errors[config].append((utterance, word_error_rate(utterance.text, transcript.text)))
            if utterance.voice != "jfk.flac":
                seconds[config].append(transcript.seconds)
    for transcriber in transcribers.values():
        transcriber.close()
    report(errors, seconds, others)


def report(errors: dict[tuple, list[tuple[Utterance, float]]], seconds: dict[tuple, list[float]],
           others: list[Utterance]) -> None:
    voices = sorted({u.voice for u in others})
    print(f"{len(QUESTIONS)} questions x {len(voices) - 1} voices that are not ours, plus jfk.flac; "
          f"each {', '.join(CONDITIONS)}; {len(others)} utterances")
    header = "".join(f"{condition:>13}" for condition in CONDITIONS)
    print(f"Word error rate, other voices    {header}  {'ours, clean':>12}  {'ms/question':>12}")
    for config, scored in errors.items():
        name = f"{config[0]} beam {config[1]}" + (f" language {config[2]}" if config[2] else "")
        by_condition = [
            statistics.mean(e for u, e in scored if u.condition == c and u.voice != "piper (ours)") for c in CONDITIONS
        ]
        own = statistics.mean(e for u, e in scored if u.voice == "piper (ours)" and u.condition == "clean")
        cells = "".join(f"{value:13.3f}" for value in by_condition)
        print(f"  {name:30} {cells}  {own:12.3f}  {1000 * statistics.median(seconds[config]):12.0f}")
    print("Clean word error rate by voice")
    print("  " + " " * 30 + "".join(f"{voice[:11]:>12}" for voice in voices))
    for config, scored in errors.items():
        name = f"{config[0]} beam {config[1]}" + (f" language {config[2]}" if config[2] else "")
        cells = "".join(
            f"{statistics.mean(e for u, e in scored if u.voice == voice and u.condition == 'clean'):12.3f}"
            for voice in voices
        )
        print(f"  {name:30}{cells}")


def main() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"needs {' and '.join(missing)}: sudo apt-get install {' '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="stt-measure-") as cache:
        measure(Path(cache))


if __name__ == "__main__":
    main()
