"""Speech recognition accuracy and speed of the bundled Whisper models on speech the project never tuned on.

    .venv/bin/python bench/stt_models.py    # needs apt-get install espeak-ng flite sox

The default model must be chosen on voices other than the one the program
speaks with: on its own Piper voice tiny.en looks best, elsewhere it is not.
So every question is spoken by six espeak-ng voices (US, UK, Scottish,
Caribbean English, male and female; formant voices, more robotic than any
person), five Flite voices (awb, rms and slt are built from recordings of
people; kal and kal16 are diphone voices) and the bundled Piper voice shifted
in pitch and speed with sox (another speaker, as far as Whisper can tell),
plus the JFK recording; each clean, with white noise at 15 dB SNR, and in a
reverberant room (sox ``reverb``). The unshifted Piper voice is reported
apart, as the number not to choose by.

The cascade configurations run tiny.en first and let base listen again only
when tiny.en is unsure (``audio.stt.fallback_model``); the table says how
often base was asked.

Word error rates are means over every utterance (espeak-ng and the seeded
Piper voice say a sentence the same way every run, so one round is enough);
times are medians per utterance, measured with the models alternating on
a shared, noisy machine: compare them within the run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

import numpy as np
import onnxruntime
import soundfile

from audio.settings import STTSettings
from audio.stt import Transcriber, read_audio
from audio.tts import Synthesizer
from audio.types import SAMPLE_RATE
from tests.audio.speech import JFK_PATH, JFK_TEXT, espeak, flite, silence, spoken, whisper_decodes, with_noise
from tests.wer import word_error_rate

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
FLITE_VOICES = ["awb", "rms", "slt", "kal", "kal16"]
PIPER_VARIANTS = {"piper lower": ["pitch", "-300", "tempo", "0.9"], "piper higher": ["pitch", "400", "tempo", "1.15"]}
"""The bundled voice made into other speakers: sox effects (pitch in cents, tempo as a factor)."""
CONDITIONS = ("clean", "noise 15 dB", "reverb")
OURS = "piper (ours)"
CONFIGURATIONS = {
    "tiny.en beam 1": STTSettings(model="tiny.en", fallback_model=None, beam_size=1),
    "tiny.en beam 5": STTSettings(model="tiny.en", fallback_model=None, beam_size=5),
    "base beam 1": STTSettings(model="base", beam_size=1),
    "base beam 5": STTSettings(model="base", beam_size=5),
    "tiny.en > base, beam 5, < -0.4": STTSettings(model="tiny.en", fallback_model="base", fallback_below=-0.4),
    "tiny.en beam 5, float32": STTSettings(model="tiny.en", fallback_model=None, beam_size=5, compute_type="float32"),
    "tiny.en > base, float32": STTSettings(model="tiny.en", fallback_model="base", fallback_below=-0.4,
                                           compute_type="float32"),
}
"""By name; base with no language uses the locale guard (English here). All but the float32 rows compute in
int8, the default; the models are stored in float16, which a CPU does not compute in, and
wyoming-faster-whisper's default makes that float32."""


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
    """(other voices, every question in every condition; the bundled voice itself, clean)."""
    onnxruntime.set_seed(0)
    synthesizer = Synthesizer()
    own = {q: spoken(synthesizer, q) for q in QUESTIONS}
    synthesizer.close()
    voices: dict[str, dict[str, np.ndarray]] = {v: {q: espeak(q, v) for q in QUESTIONS} for v in ESPEAK_VOICES}
    voices |= {f"flite {v}": {q: flite(q, v) for q in QUESTIONS} for v in FLITE_VOICES}
    for name, effects in PIPER_VARIANTS.items():
        voices[name] = {q: sox(pcm, *effects) for q, pcm in own.items()}
    others = []
    for condition in CONDITIONS:
        for seed, (voice, said) in enumerate(voices.items()):
            others += [Utterance(voice, condition, q, in_condition(pcm, condition, seed)) for q, pcm in said.items()]
        others.append(Utterance("jfk.flac", condition, JFK_TEXT, in_condition(read_audio(JFK_PATH), condition, 99)))
    ours = [Utterance(OURS, "clean", q, in_condition(pcm, "clean", 7)) for q, pcm in own.items()]
    return others, ours


@dataclass
class Scores:
    """What one configuration made of every utterance."""

    errors: list[tuple[Utterance, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    """Per question (jfk.flac is a speech, not a question, and is left out)."""
    second_opinions: int = 0
    """Utterances on which the fallback model listened too."""

    def error_rate(self, voice: str | None = None, condition: str | None = None) -> float:
        """Mean over the utterances of ``voice`` (every voice but ours when None) in ``condition`` (any when None)."""
        return statistics.mean(
            error
            for utterance, error in self.errors
            if (utterance.voice == voice if voice else utterance.voice != OURS)
            and condition in (None, utterance.condition)
        )


def measure(cache: Path, names: list[str]) -> dict[str, Scores]:
    others, ours = material()
    transcribers = {name: Transcriber(CONFIGURATIONS[name], cache_dir=cache) for name in names}
    for transcriber in transcribers.values():
        transcriber.warm()
    scores = {name: Scores() for name in names}
    for utterance in others + ours:
        for name, transcriber in transcribers.items():
            with whisper_decodes() as decodes:
                transcript = transcriber.transcribe(utterance.pcm)
            scores[name].errors.append((utterance, word_error_rate(utterance.text, transcript.text)))
            scores[name].second_opinions += len(decodes) > 1
            if utterance.voice != "jfk.flac":
                scores[name].seconds.append(transcript.seconds)
    for transcriber in transcribers.values():
        transcriber.close()
    print(f"{len(QUESTIONS)} questions x {len({u.voice for u in others}) - 1} voices that are not ours, plus "
          f"jfk.flac; each {', '.join(CONDITIONS)}; {len(others)} utterances")
    return scores


def report(scores: dict[str, Scores]) -> None:
    header = "".join(f"{condition:>12}" for condition in CONDITIONS)
    print(f"Word error rate, other voices  {header} {'ours':>6} {'ms median':>10} {'ms p90':>7} {'base asked':>11}")
    for name, score in scores.items():
        cells = "".join(f"{score.error_rate(condition=c):12.3f}" for c in CONDITIONS)
        p90 = statistics.quantiles(score.seconds, n=10)[-1]
        asked = f"{score.second_opinions / len(score.errors):11.0%}" if CONFIGURATIONS[name].fallback_model else ""
        print(f"  {name:30}{cells} {score.error_rate(OURS):6.3f} "
              f"{1000 * statistics.median(score.seconds):10.0f} {1000 * p90:7.0f} {asked}")
    voices = sorted({u.voice for u, _ in next(iter(scores.values())).errors} - {OURS})
    print("Clean word error rate by voice")
    for start in range(0, len(voices), 8):
        print(" " * 32 + "".join(f"{voice[:13]:>14}" for voice in voices[start:start + 8]))
        for name, score in scores.items():
            cells = "".join(f"{score.error_rate(voice, 'clean'):14.3f}" for voice in voices[start:start + 8])
            print(f"  {name:30}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CONFIGURATIONS), default=list(CONFIGURATIONS),
                        metavar="NAME", help=f"configurations to measure (default: all): {', '.join(CONFIGURATIONS)}")
    names = parser.parse_args().only
    missing = [tool for tool in ("espeak-ng", "flite", "sox") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"needs {' and '.join(missing)}: sudo apt-get install {' '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="stt-measure-") as cache:
        report(measure(Path(cache), names))


if __name__ == "__main__":
    main()
