"""The voice loop on laptop speakers, in simulated rooms: does it hear the person and not itself?

    .venv/bin/python bench/room.py [--replies 6]      # needs espeak-ng for the wake-word voices; ~8 minutes

Three rooms (impulse responses from ``audio.room``: direct path, reflections,
a decaying tail, at a level relative to what was played). In each, one
session answers ``--replies`` spoken questions with the scripted backend's
long answers and nobody talking over them (self-interruptions, goal 0; the
echo return loss enhancement of the AEC over each reply after the first,
goal >= 25 dB), then ``--replies`` questions whose answers the JFK
recording interrupts at the level of the echo (the barge-in reaction, from
the person's first sound in the input to the answer's last sample in the
speaker file, goal <= 300 ms). Then the first-audio latency with echo
cancellation on and off in the same run on headphones (no echo; goal:
within 30 ms), the CPU the audio processing adds per second of audio, and
the wake-word model on speech it never heard: false accepts per hour of
ordinary sentences (espeak-ng voices, Piper, JFK) and misses on wake
phrases in those voices. The machine is shared: figures of one run compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

from assistant.config import REPO_CONFIG, Config, load_config  # noqa: E402
from assistant.session import Session  # noqa: E402
from assistant.voice.cli import converse_in_room  # noqa: E402
from assistant.voice.events import Interrupted  # noqa: E402
from assistant.voice.loop import VoiceLoop  # noqa: E402
from assistant.voice.models import SpeechModels  # noqa: E402
from audio import FRAME_SAMPLES, SAMPLE_RATE  # noqa: E402
from audio.aec import EchoCanceller  # noqa: E402
from audio.doubletalk import EchoResidual  # noqa: E402
from audio.room import SimulatedRoom, room_impulse_response  # noqa: E402
from audio.vad import SileroVAD  # noqa: E402
from audio.wakeword import WakeWordDetector  # noqa: E402
from tests.audio.speech import JFK_PATH, espeak, pink_noise, read_audio, silence, spoken  # noqa: E402
from tests.scripted_openai import ScriptedOpenAI  # noqa: E402

ROOMS = {
    "laptop (40 ms, 300 ms tail, 0 dB)": dict(delay_ms=40, tail_ms=300, level_db=0),
    "far wall (80 ms, 400 ms tail, -10 dB)": dict(delay_ms=80, tail_ms=400, level_db=-10),
    "close, dry (20 ms, 150 ms tail, -5 dB)": dict(delay_ms=20, tail_ms=150, level_db=-5),
}
QUESTIONS = ["Tell me about Paris.", "How do plants make food?", "What is a black hole?", "Tell me about the Moon.",
             "How do bees make honey?", "Why is the sea salty?", "What is a volcano?", "How does rain form?",
             "Tell me about whales.", "What is electricity?", "How do trains work?", "What is a comet?"]
ANSWER = ("{topic} is a fine thing to ask about. Here is what most people find worth knowing first. "
          "It has a long history, and scientists still learn new things about it every year. "
          "If you want, I can tell you more about any part of it.")
ESPEAK_VOICES = ["en-us", "en-us+f3", "en-gb", "en-gb-scotland", "en-029"]
PLAIN_SENTENCES = ["What is the weather like tomorrow?", "Turn the music down a little.", "Did you feed the cat?",
                   "I think we should leave at seven.", "Jarvis was a butler in the films.", "Hey, are you coming?"]
ANSWER_GAP_S = 0.6  # quiet longer than this between two sounds of the speaker: one answer ended, another began
GOALS = {"self_interruptions": 0, "barge_in_ms": 300, "erle_db": 25, "aec_latency_ms": 30}


@dataclass
class RoomFigures:
    self_interruptions: int = 0
    replies: int = 0
    erle_db: list[float] = field(default_factory=list)
    barge_in_ms: list[float] = field(default_factory=list)
    missed_barge_ins: int = 0


def config_for(data: Path, server: ScriptedOpenAI, **overrides: Any) -> Config:
    return load_config(REPO_CONFIG, {"data_dir": str(data), "llm.backend": "mlx",
                                     "llm.mlx.base_url": server.base_url, **overrides})


async def in_room(config: Config, models: SpeechModels, speech: np.ndarray, out: Path,
                  response: np.ndarray | None, turns: int) -> tuple[VoiceLoop, list[Any], np.ndarray]:
    session = Session(config)
    events: list[Any] = []
    try:
        loop = await converse_in_room(config, session, models, SimulatedRoom(speech, out, response, 1.5), turns,
                                      events.append)
    finally:
        await session.close()
    played, rate = soundfile.read(out, dtype="float32")
    return loop, events, played if rate == SAMPLE_RATE else _to_16k(played, rate)


def _to_16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    from audio.resample import resample

    return resample(pcm, rate, SAMPLE_RATE)


def answers(server: ScriptedOpenAI, questions: list[str]) -> None:
    for question in questions:
        server.reply(ANSWER.format(topic=question.rstrip(".?").split(" ", 2)[-1].capitalize()), pieces=20)


async def echo_only(models: SpeechModels, server: ScriptedOpenAI, work: Path, room: dict[str, float],
                    replies: int, figures: RoomFigures) -> None:
    """Questions with room for the whole answer after each: nothing but the echo talks over it."""
    questions = QUESTIONS[:replies]
    server.replies.clear()  # what an earlier room left unasked
    answers(server, questions)
    parts = [silence(0.3)]
    for question in questions:
        parts += [spoken(models.synthesizer, question), silence(14.0)]
    speech = np.concatenate(parts)
    speech += pink_noise(len(speech) / SAMPLE_RATE, -50, seed=1)
    loop, events, _ = await in_room(config_for(work, server), models, speech, work / "echo.wav",
                                    room_impulse_response(**room, seed=3), replies)
    figures.self_interruptions += len([e for e in events if isinstance(e, Interrupted)])
    figures.replies += len(loop.turns)
    figures.erle_db += [turn.erle_db for turn in loop.turns[1:] if turn.erle_db is not None]


async def barge_ins(models: SpeechModels, server: ScriptedOpenAI, work: Path, room: dict[str, float],
                    replies: int, figures: RoomFigures) -> None:
    """Each answer interrupted by JFK 4 s in, as loud as the echo; the reaction read from the two files."""
    person = read_audio(JFK_PATH)[: round(2.3 * SAMPLE_RATE)]
    onset = int(np.flatnonzero(np.abs(person) > 0.05 * np.abs(person).max())[0])
    for index, question in enumerate(QUESTIONS[:replies]):
        server.replies.clear()  # a talk-over not taken for a turn leaves its "Yes." behind: each case starts afresh
        answers(server, [question])
        server.reply("Yes.")
        asked = spoken(models.synthesizer, question)
        level = np.sqrt(np.mean(asked**2) / np.mean(person**2)) * 10 ** (room["level_db"] / 20)
        before = 0.3 + len(asked) / SAMPLE_RATE + 6.0
        speech = np.concatenate([silence(0.3), asked, silence(6.0), person * level, silence(0.5)])
        speech += pink_noise(len(speech) / SAMPLE_RATE, -50, seed=index)
        loop, events, played = await in_room(config_for(work, server), models, speech, work / "barge.wav",
                                             room_impulse_response(**room, seed=3), 2)
        speaks_at = round(before * SAMPLE_RATE) + onset
        stopped_at = answer_stopped_at(played, speaks_at)
        if not (loop.turns and loop.turns[0].interrupted) or stopped_at is None:
            figures.missed_barge_ins += 1
            continue
        figures.barge_in_ms.append((stopped_at - speaks_at) * 1000 / SAMPLE_RATE)


def answer_stopped_at(played: np.ndarray, speaks_at: int) -> int | None:
    """The last sound of the answer the person talked over: the speaker's last loud sample before a gap.

    The gap (longer than the pauses between Piper's sentences) ends that
    answer; the reply to what the person said comes after it and is not the
    answer still playing. None when nothing played after the person began.
    """
    loud = np.flatnonzero(np.abs(played[speaks_at:]) > 0.01)
    if not loud.size:
        return None
    gaps = np.flatnonzero(np.diff(loud) > ANSWER_GAP_S * SAMPLE_RATE)
    return speaks_at + int(loud[gaps[0]] if gaps.size else loud[-1])


async def first_audio(models: SpeechModels, server: ScriptedOpenAI, work: Path, rounds: int) -> dict[bool, list[float]]:
    """First audio after each question on headphones (no echo path), AEC on and off, alternating which goes first."""
    figures: dict[bool, list[float]] = {True: [], False: []}
    for index, question in enumerate(QUESTIONS[:rounds]):
        speech = np.concatenate([silence(0.3), spoken(models.synthesizer, question), silence(0.3)])
        for aec in (True, False) if index % 2 == 0 else (False, True):
            server.replies.clear()
            server.reply("Sure.")
            config = config_for(work, server, **{"audio.aec.enabled": aec,
                                                 "audio.aec.noise_suppression": 1 if aec else 0})
            loop, _, _ = await in_room(config, models, speech, work / "latency.wav", None, 1)
            figures[aec] += [turn.first_audio_ms for turn in loop.turns if turn.first_audio_ms is not None]
    return figures


def processing_cpu(models: SpeechModels) -> dict[str, float]:
    """CPU seconds per second of audio of each added stage, on 20 s of echo over the scripted answers."""
    far = np.concatenate([spoken(models.synthesizer, ANSWER.format(topic=q)) for q in ("Paris", "The Moon")])
    far = far[: 20 * SAMPLE_RATE]
    near = np.convolve(far, room_impulse_response(seed=3))[: len(far)].astype(np.float32)
    frames = range(0, len(far) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    costs = {}
    for name, make in (("AEC3 + noise suppression", EchoCanceller), ("linear canceller", EchoResidual),
                       ("second silero", SileroVAD)):
        stage = make()
        started = time.process_time()
        for i in frames:
            if isinstance(stage, SileroVAD):
                stage.probability(near[i : i + FRAME_SAMPLES])
            elif isinstance(stage, EchoResidual):
                stage.residual(near[i : i + FRAME_SAMPLES], far[i : i + FRAME_SAMPLES])
            else:
                stage.process(near[i : i + FRAME_SAMPLES], far[i : i + FRAME_SAMPLES])
        costs[name] = (time.process_time() - started) / (len(far) / SAMPLE_RATE)
    return costs


def wake_words(models: SpeechModels) -> tuple[float, int, int, float, float]:
    """False accepts per hour of ordinary speech, misses out of wake phrases, and CPU per audio second."""
    detector = WakeWordDetector("hey_jarvis")
    plain = [spoken(models.synthesizer, s) for s in PLAIN_SENTENCES] + [read_audio(JFK_PATH)]
    plain += [espeak(s, voice) for voice in ESPEAK_VOICES for s in PLAIN_SENTENCES]
    calls = [spoken(models.synthesizer, "Hey Jarvis, what time is it?")]
    calls += [espeak("Hey Jarvis, what time is it?", voice) for voice in ESPEAK_VOICES]
    stream = np.concatenate([part for pcm in plain for part in (pcm, silence(1.0))])
    seconds = len(stream) / SAMPLE_RATE
    detector.reset()
    started = time.process_time()
    false_accepts = sum(detector.feed(stream[i : i + 1280]) is not None for i in range(0, len(stream), 1280))
    cpu = (time.process_time() - started) / seconds
    misses = 0
    for pcm in calls:
        detector.reset()
        audio = np.concatenate([silence(0.5), pcm, silence(0.5)])
        misses += not any(detector.feed(audio[i : i + 1280]) is not None for i in range(0, len(audio), 1280))
    detector.close()
    return false_accepts * 3600 / seconds, misses, len(calls), seconds, cpu


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=6, help="answers per room with nobody talking over them")
    parser.add_argument("--latency-rounds", type=int, default=8, help="questions for the AEC on/off latency")
    parser.add_argument("--latency-only", action="store_true", help="only the AEC on/off latency (a minute)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    server = ScriptedOpenAI()
    server.start()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        models = SpeechModels.from_config(config_for(work, server))
        models.transcriber.warm()
        models.synthesizer.warm()
        try:
            rooms = {}
            for name, room in ROOMS.items() if not args.latency_only else ():
                figures = rooms[name] = RoomFigures()
                print(f"{name}: {args.replies} answers with nobody talking over them ...", flush=True)
                await echo_only(models, server, work, room, args.replies, figures)
                print(f"{name}: answers talked over ...", flush=True)
                await barge_ins(models, server, work, room, max(3, args.replies // 2), figures)
            print("first audio with echo cancellation on and off ...", flush=True)
            latency = await first_audio(models, server, work, args.latency_rounds)
            on, off = latency[True], latency[False]
            cpu = processing_cpu(models)
            per_hour, misses, calls, heard, wake_cpu = wake_words(models)
        finally:
            models.close()
            server.stop()
    print(f"\n{'room':40s} {'replies':>7s} {'self-int.':>9s} {'ERLE dB p50/min':>16s} "
          f"{'barge-in ms p50/worst':>22s} {'missed':>6s}")
    for name, f in rooms.items():
        erle = f"{median(f.erle_db)}/{min(f.erle_db):.0f}" if f.erle_db else "-"
        barge = f"{median(f.barge_in_ms)}/{max(f.barge_in_ms):.0f}" if f.barge_in_ms else "-"
        print(f"{name:40s} {f.replies:7d} {f.self_interruptions:9d} {erle:>16s} {barge:>22s} {f.missed_barge_ins:6d}")
    every = [ms for f in rooms.values() for ms in f.barge_in_ms] or [float("nan")]
    print(f"\nall rooms: self-interruptions {sum(f.self_interruptions for f in rooms.values())} (goal 0); "
          f"barge-in median {median(every)} ms, worst {max(every):.0f} ms (goal <= 300); "
          f"ERLE median {median([e for f in rooms.values() for e in f.erle_db])} dB (goal >= 25)")
    print(f"first audio on headphones: AEC on {median(on)} ms, off {median(off)} ms, "
          f"difference {statistics.median(on) - statistics.median(off):+.0f} ms (goal within 30)")
    print("CPU per second of audio: " + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in cpu.items()))
    print(f"wake word hey_jarvis: {per_hour:.1f} false accepts per hour over {heard / 60:.1f} min of other speech; "
          f"missed {misses} of {calls} wake phrases; CPU {wake_cpu * 1000:.0f} ms per second of audio")


if __name__ == "__main__":
    asyncio.run(main())
