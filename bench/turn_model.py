"""How often the Smart Turn model is right about a finished turn, on speech it never heard, and how fast.

    .venv/bin/python bench/turn_model.py      # needs espeak-ng and flite (apt-get install espeak-ng flite)

Every utterance ends in a short silence, as when the endpointer asks the
model at a pause. Material, each kind scored apart:

- finished questions and commands, and unfinished prefixes of natural
  sentences ("Set a timer for"), in six espeak-ng voices and four flite
  voices; synthesized prefixes end in a finished melody, as every phrase of
  a text-to-speech voice does;
- the same prefixes trailing off in a hesitation ("Set a timer for, um");
- a human: jfk.flac cut at the end of every word inside a clause (unfinished)
  and at the end of the sentence (finished).

For each threshold: the share of finished turns judged finished (ended after
the short silence) and of unfinished ones judged unfinished (left waiting);
the engines' own trailing silence (about 300 ms from espeak-ng) comes on top
of it. Then the same at 0.5 for shorter and longer silences; then the
finished questions and jfk.flac's pauses as the voice loop asks about them
(at the endpointer's own count of silence, up to three times); and the median time of
one inference with one and two onnxruntime threads, measured alternately
on a shared machine: compare them within the run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

import numpy as np

from assistant.voice.ears import ASK_AFTER_MS
from audio.settings import TurnSettings, VADSettings
from audio.stt import read_audio
from audio.turn import TurnDetector
from audio.types import FRAME_SAMPLES, SAMPLE_RATE
from audio.vad import Endpointer
from tests.audio.speech import JFK_PATH, espeak, silence

FINISHED = [
    "What is the capital of France?",
    "Set a timer for ten minutes.",
    "What's the weather like in Berlin tomorrow?",
    "Can you remind me to call my mother tonight?",
    "Turn off the lights in the kitchen.",
    "How far is the Moon from the Earth?",
    "Play some jazz.",
    "Who wrote Pride and Prejudice?",
    "Add milk to my shopping list.",
    "What time is it in Tokyo?",
]
UNFINISHED = [
    "Set a timer for",
    "What's the weather like in",
    "Can you remind me to",
    "I was wondering if",
    "What is the capital of",
    "Turn off the lights in the",
    "How far is it from here to",
    "Could you tell me why the",
    "Add milk and eggs and",
    "Send a message to Priya saying that",
]
ESPEAK_VOICES = ["en-us", "en-us+f3", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp+f2"]
FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
JFK_WORD_ENDS_S = [1.42, 1.76, 4.52, 5.70, 6.02, 6.76, 7.02, 7.24, 8.94, 9.28, 9.50, 9.72, 9.92, 10.22]
"""Ends of the words inside a clause ("And so my", "... can do for your"), from Whisper's word timestamps."""
JFK_SENTENCE_END_S = 10.50
THRESHOLDS = (0.3, 0.5, 0.7)
SILENCES_S = (0.1, 0.2, 0.3, 0.5)
TIMING_ROUNDS = 30


@dataclass(frozen=True)
class Speech:
    kind: str
    finished: bool
    pcm: np.ndarray
    """The speech without the silence after it."""


def flite(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)
        return read_audio(path)


def material() -> list[Speech]:
    speech = []
    for engine, voices, say in (("espeak-ng", ESPEAK_VOICES, espeak), ("flite", FLITE_VOICES, flite)):
        for voice in voices:
            speech += [Speech(f"{engine} finished", True, say(text, voice)) for text in FINISHED]
            speech += [Speech(f"{engine} unfinished", False, say(text, voice)) for text in UNFINISHED]
            speech += [Speech(f"{engine} '..., um'", False, say(text + ", um", voice)) for text in UNFINISHED]
    jfk = read_audio(JFK_PATH)
    speech += [Speech("human mid-sentence", False, jfk[: round(end * SAMPLE_RATE)]) for end in JFK_WORD_ENDS_S]
    speech.append(Speech("human end of sentence", True, jfk[: round(JFK_SENTENCE_END_S * SAMPLE_RATE)]))
    return speech


def right_share(probabilities: list[tuple[Speech, float]], kind: str, threshold: float) -> str:
    judged = [(p >= threshold) == speech.finished for speech, p in probabilities if speech.kind == kind]
    return f"{sum(judged) / len(judged):.2f}"


def report_accuracy(detector: TurnDetector, speech: list[Speech]) -> None:
    kinds = list(dict.fromkeys(s.kind for s in speech))
    by_silence = {
        seconds: [(s, detector.probability(np.concatenate([s.pcm, silence(seconds)]))) for s in speech]
        for seconds in SILENCES_S
    }
    print("Share judged right after 200 ms of silence (finished: ended; unfinished: left waiting)")
    print(f"  {'material':26} {'n':>4}" + "".join(f"{'t=' + str(t):>8}" for t in THRESHOLDS))
    for kind in kinds:
        count = sum(s.kind == kind for s in speech)
        cells = "".join(f"{right_share(by_silence[0.2], kind, t):>8}" for t in THRESHOLDS)
        print(f"  {kind:26} {count:4}{cells}")
    print("Share judged right at threshold 0.5, by the silence after the speech")
    print(f"  {'material':26}     " + "".join(f"{str(round(s * 1000)) + ' ms':>8}" for s in SILENCES_S))
    for kind in kinds:
        print(f"  {kind:26}     " + "".join(f"{right_share(by_silence[s], kind, 0.5):>8}" for s in SILENCES_S))


def asked_at_pauses(detector: TurnDetector, pcm: np.ndarray) -> list[list[float]]:
    """Each pause the endpointer finds in ``pcm``: the model's answers when the voice loop asks it.

    The loop asks after ``audio.turn.silence_ms`` of silence as the endpointer
    counts it and again ``ASK_AFTER_MS`` later, on the speech heard so far.
    """
    settings = TurnSettings()
    endpointer = Endpointer(VADSettings(min_silence_ms=3000))
    audio = np.concatenate([silence(0.5), pcm, silence(1.0)])
    pauses: list[list[float]] = []
    asks = 0
    for start in range(0, len(audio), FRAME_SAMPLES):
        endpointer.feed(audio[start : start + FRAME_SAMPLES])
        if endpointer.silence_ms == 0.0:
            asks = 0
        elif asks < len(ASK_AFTER_MS) and endpointer.silence_ms >= settings.silence_ms + ASK_AFTER_MS[asks]:
            if asks == 0:
                pauses.append([])
            pauses[-1].append(detector.probability(endpointer.heard_so_far()))
            asks += 1
    return pauses


def report_as_asked(detector: TurnDetector) -> None:
    """Finished questions, and a person's pauses inside his sentence, as the voice loop asks about them."""
    finished = [asked_at_pauses(detector, say(text, voice))[-1]
                for _, voices, say in (("espeak-ng", ESPEAK_VOICES, espeak), ("flite", FLITE_VOICES, flite))
                for voice in voices for text in FINISHED]
    jfk = asked_at_pauses(detector, read_audio(JFK_PATH))
    inside, end = jfk[:-1], jfk[-1]
    print(f"As the voice loop asks: after {TurnSettings().silence_ms} ms of the endpointer's silence and again "
          f"{', '.join(str(ms) for ms in ASK_AFTER_MS[1:])} ms later (threshold 0.5)")
    for asks in range(1, len(ASK_AFTER_MS) + 1):
        ended = sum(any(p >= 0.5 for p in answers[:asks]) for answers in finished) / len(finished)
        cut = sum(any(p >= 0.5 for p in answers[:asks]) for answers in inside)
        print(f"  asked up to {asks}x: {ended:.2f} of {len(finished)} synthetic finished questions ended; "
              f"{cut} of jfk.flac's {len(inside)} pauses inside the sentence called finished; its end "
              f"{'called finished' if any(p >= 0.5 for p in end[:asks]) else 'missed'}")
    print(f"  jfk.flac's pauses: {[[round(p, 2) for p in answers] for answers in jfk]}")


def report_speed(speech: list[Speech]) -> None:
    detectors = {threads: TurnDetector(threads=threads) for threads in (1, 2)}
    seconds: dict[int, list[float]] = {threads: [] for threads in detectors}
    for detector in detectors.values():
        detector.warm()
    for index in range(TIMING_ROUNDS):
        pcm = np.concatenate([speech[index % len(speech)].pcm, silence(0.2)])
        for threads, detector in detectors.items():
            start = time.perf_counter()
            detector.probability(pcm)
            seconds[threads].append(time.perf_counter() - start)
    cells = ", ".join(f"{threads} thread(s) {1000 * statistics.median(s):.1f} ms" for threads, s in seconds.items())
    print(f"Median time per inference over {TIMING_ROUNDS} calls, alternating: {cells}")


def main() -> None:
    speech = material()
    detector = TurnDetector()
    detector.warm()
    report_accuracy(detector, speech)
    report_as_asked(detector)
    report_speed(speech)


if __name__ == "__main__":
    main()
