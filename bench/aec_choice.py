"""Why AEC3 through pywebrtc-audio: the two maintained WebRTC bindings on the same echoes.

    .venv/bin/python bench/aec_choice.py                  # pywebrtc-audio (a dependency)
    .venv/bin/pip install livekit && .venv/bin/python bench/aec_choice.py   # to compare (then uninstall)

A Piper answer played through four generated rooms (``audio.room``); each
binding cancels it in 10 ms blocks. Printed per room and binding: the echo
removed (ERLE) over the whole answer and after its first two seconds, and
the CPU per second of audio. Then, for double talk, silero's mean speech
probability on each binding's output while JFK talks over the echo at the
same level: what a barge-in detector listening to that output would see.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audio import SAMPLE_RATE, Synthesizer  # noqa: E402
from audio.doubletalk import EchoResidual  # noqa: E402
from audio.room import room_impulse_response  # noqa: E402
from tests.audio.speech import JFK_PATH, read_audio, spoken  # noqa: E402

BLOCK = SAMPLE_RATE // 100
ROOMS = [(20, 150, 0), (40, 300, 0), (80, 400, -10), (60, 250, -5)]
ANSWER = ("The capital of France is Paris. It sits on the river Seine and has been the country's "
          "largest city for centuries. Its museums hold some of the most famous paintings in the world.")

Canceller = Callable[[np.ndarray, np.ndarray], np.ndarray]


def pywebrtc() -> Canceller:
    from pywebrtc_audio import AudioProcessor

    processor = AudioProcessor(SAMPLE_RATE, echo_cancellation=True)
    return lambda near, far: processor.process(near.copy(), far.copy())


def livekit() -> Canceller:
    from livekit.rtc import AudioFrame, AudioProcessingModule

    module = AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)

    def process(near: np.ndarray, far: np.ndarray) -> np.ndarray:
        reverse = AudioFrame((far * 32767).astype(np.int16).tobytes(), SAMPLE_RATE, 1, len(far))
        module.process_reverse_stream(reverse)
        frame = AudioFrame((near * 32767).astype(np.int16).tobytes(), SAMPLE_RATE, 1, len(near))
        module.process_stream(frame)
        return np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32767

    return process


def run(make: Callable[[], Canceller], near: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, float]:
    cancel = make()
    out = np.zeros_like(near)
    started = time.process_time()
    for i in range(0, len(near) - BLOCK + 1, BLOCK):
        out[i : i + BLOCK] = cancel(near[i : i + BLOCK], far[i : i + BLOCK])
    return out, (time.process_time() - started) / (len(near) / SAMPLE_RATE)


def erle(near: np.ndarray, out: np.ndarray, start: int = 0) -> float:
    return 10 * float(np.log10(np.sum(near[start:] ** 2) / max(np.sum(out[start:] ** 2), 1e-12)))


def speech_probability(pcm: np.ndarray) -> float:
    from audio.vad import SileroVAD

    vad = SileroVAD()
    return float(np.mean([vad.probability(pcm[i : i + 512]) for i in range(0, len(pcm) - 511, 512)]))


def main() -> None:
    bindings: dict[str, Callable[[], Canceller]] = {"pywebrtc-audio": pywebrtc}
    if importlib.util.find_spec("livekit") is not None:
        bindings["livekit"] = livekit
    else:
        print("(livekit is not installed here: only pywebrtc-audio is measured)")
    far = spoken(Synthesizer(), ANSWER)
    noise = (np.random.default_rng(1).standard_normal(len(far)) * 1e-3 * 0.03).astype(np.float32)
    for delay, tail, level in ROOMS:
        echo = np.convolve(far, room_impulse_response(delay, tail, level, seed=1))[: len(far)].astype(np.float32)
        for name, make in bindings.items():
            out, cpu = run(make, echo + noise, far)
            print(f"room {delay} ms / {tail} ms tail / {level:+d} dB  {name:15s} ERLE {erle(echo, out):5.1f} dB, "
                  f"after 2 s {erle(echo, out, 2 * SAMPLE_RATE):5.1f} dB, CPU {cpu * 1000:4.1f} ms per audio second")
    person = read_audio(JFK_PATH)
    person = np.concatenate([np.zeros(4 * SAMPLE_RATE, np.float32), person])[: len(far)]
    person *= np.sqrt(np.mean(far**2) / np.mean(person[4 * SAMPLE_RATE :] ** 2))
    echo = np.convolve(far, room_impulse_response(40, 300, 0, seed=7))[: len(far)].astype(np.float32)
    talking = slice(4 * SAMPLE_RATE, 8 * SAMPLE_RATE)
    print(f"\ndouble talk, JFK as loud as the echo: silero on JFK alone {speech_probability(person[talking]):.2f}")
    for name, make in bindings.items():
        out, _ = run(make, echo + person, far)
        print(f"  silero on {name}'s output {speech_probability(out[talking]):.2f}")
    linear = EchoResidual()
    frames = range(0, len(far) - 511, 512)
    out = np.concatenate([linear.residual((echo + person)[i : i + 512], far[i : i + 512]) for i in frames])
    print(f"  silero on the linear canceller's output (audio.doubletalk) {speech_probability(out[talking]):.2f}")


if __name__ == "__main__":
    main()
