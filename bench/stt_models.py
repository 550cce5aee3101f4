"""Speech recognition speed and accuracy of the bundled Whisper models (prints figures; not a test).

    .venv/bin/python bench/stt_models.py

Real-time factor (processing seconds per second of audio; lower is faster)
and word error rate, for tiny.en and base at beam sizes 1 and 5, on the
JFK recording and on spoken questions Piper makes from QUESTIONS. Times
are medians over several rounds with the models alternating, because the
machine is shared and noisy; errors are means over a fresh Piper
recording of every question per round, because Piper never says a
sentence the same way twice.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

import numpy as np

from audio.settings import STTSettings
from audio.stt import Transcriber, read_audio
from audio.tts import Synthesizer
from audio.wer import word_error_rate
from tests.audio.speech import JFK_PATH, JFK_TEXT, silence, spoken

QUESTIONS = [
    "What's the weather like in Berlin tomorrow?",
    "Set a timer for 25 minutes.",
    "How many kilometres are there in 26 miles?",
    "Remind me to call my sister at 6 pm.",
    "What is 17 times 23?",
    "Who wrote the novel Pride and Prejudice?",
    "Turn the volume down to 30 percent.",
    "How long does it take to boil an egg?",
    "What time is it in Tokyo right now?",
    "Add milk, eggs and bread to my shopping list.",
    "Translate good morning into Spanish.",
    "How far is the Moon from the Earth?",
    "Play some jazz by Miles Davis in the kitchen.",
    "What's the capital of Australia?",
    "Convert 350 degrees Fahrenheit to Celsius.",
    "Schedule a dentist appointment for next Thursday at 9 30.",
    "Why is the sky blue?",
    "Read me the headlines from the BBC.",
    "How do I make a sourdough starter?",
    "What's the population of Mexico City?",
    "Send a message to Priya saying I'm running late.",
    "Is it going to snow in Montreal this weekend?",
    "Spell the word necessary.",
    "What's the square root of 144?",
]
CONFIGURATIONS = [("tiny.en", 1), ("tiny.en", 5), ("base", 1), ("base", 5)]
ROUNDS = 3


def measure(cache: Path) -> None:
    """Print the table; ``cache`` is where the base model is assembled for the run."""
    synthesizer = Synthesizer()
    rounds = [  # Piper speaks a little differently every time, so each round has its own recordings
        [("jfk", read_audio(JFK_PATH), JFK_TEXT)]
        + [
            (f"q{i:02d}", np.concatenate([silence(0.3), spoken(synthesizer, q), silence(0.3)]), q)
            for i, q in enumerate(QUESTIONS, 1)
        ]
        for _ in range(ROUNDS)
    ]
    synthesizer.close()
    transcribers = {
        (model, beam): Transcriber(STTSettings(model=model, beam_size=beam, language="en"), cache_dir=cache)
        for model, beam in CONFIGURATIONS
    }
    for transcriber in transcribers.values():
        transcriber.warm()
    seconds: dict[tuple[str, int], dict[str, list[float]]] = {key: {} for key in transcribers}
    errors: dict[tuple[str, int], dict[str, list[float]]] = {key: {} for key in transcribers}
    for clips in rounds:
        for name, audio, text in clips:
            for key, transcriber in transcribers.items():
                transcript = transcriber.transcribe(audio)
                seconds[key].setdefault(name, []).append(transcript.seconds)
                errors[key].setdefault(name, []).append(word_error_rate(text, transcript.text))
    names = [name for name, _, _ in rounds[0][1:]]
    questions_audio = statistics.mean(
        sum(len(audio) for name, audio, _ in clips if name != "jfk") / 16000 for clips in rounds
    )
    print(f"{len(QUESTIONS)} Piper questions ({questions_audio:.1f} s of audio) and jfk.flac (11.0 s); "
          f"{ROUNDS} rounds (median time, mean error); {sys.platform}")
    print(f"{'model':8} {'beam':>4} {'jfk RTF':>8} {'jfk WER':>8} {'q RTF':>7} {'q WER':>7} {'q ms/question':>14}")
    for key in transcribers:
        jfk_rtf = statistics.median(seconds[key]["jfk"]) / 11.0
        question_seconds = [statistics.median(seconds[key][name]) for name in names]
        q_rtf = sum(question_seconds) / questions_audio
        q_wer = statistics.mean(error for name in names for error in errors[key][name])
        print(f"{key[0]:8} {key[1]:>4} {jfk_rtf:8.3f} {statistics.mean(errors[key]['jfk']):8.3f} {q_rtf:7.3f} "
              f"{q_wer:7.3f} {1000 * statistics.mean(question_seconds):14.0f}")
    for transcriber in transcribers.values():
        transcriber.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stt-measure-") as cache:
        measure(Path(cache))


if __name__ == "__main__":
    main()
