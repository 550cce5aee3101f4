"""How soon the answer is heard after the person stops speaking, through the real voice loop.

    .venv/bin/python bench/voice_latency.py [--rounds 1] [--fresh 6] [--also audio.turn.silence_ms=300 ...]

Needs espeak-ng (apt-get install espeak-ng): the questions are spoken by
voices the project never tuned on, not by its own Piper voice.

Drives the loop of ``assistant listen``: a simulated room (``audio.room``)
whose microphone plays the input in real time and whose speaker writes
what it plays on the same clock; Whisper, Piper, the end-of-turn model and
the embedded model loaded once and warmed; the repository's config.yaml
with ``llm.local.temperature: 0``, a temporary data directory, and a fresh
``Session`` without a store per run.

Inputs: jfk.flac (a real voice with real pauses inside its sentence), the
QUESTIONS in four espeak-ng voices, and PAUSED sentences with a pause of
600, 750 or 900 ms inside them ("What is the capital of … France?").
First audio is measured from the two files: from the true end of the
input's speech (its last 10 ms within 35 dB of its loudest) to the first
sample the speaker played. A turn is **cut** when the loop took it as ended
(``Heard``) before the person's speech really ended.

Conditions, in rotating order from input to input:

- turn model:   the defaults (the end-of-turn model ends a finished turn after
                ``audio.turn.silence_ms``; ``audio.vad.min_silence_ms`` is the cap)
- silence 700:  ``audio.turn.enabled: false`` with ``min_silence_ms: 700``, as before the model
- sequential:   the defaults with ``voice.early_start: false`` (the loop's own overhead)
- one more per ``--also KEY=VALUE[,KEY=VALUE]`` (voice.*, audio.vad.*, audio.turn.* keys)

A run stops at the answer's first sound. Then ``--fresh N`` runs
``assistant listen --json`` N times, each in a new process, on questions
in the four voices: the first turn a person has after starting the program,
with the cost of loading (``warmup_ms``) reported apart. The machine is
shared: compare conditions of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

import numpy as np
import soundfile
import yaml

from assistant.config import REPO_CONFIG, Config, ConfigError, load_config, set_dotted
from assistant.session import Session
from assistant.voice.events import Heard, Latency, VoiceEvent
from assistant.voice.loop import VoiceLoop
from assistant.voice.models import SpeechModels
from audio import SAMPLE_RATE, AudioChunk, WavFileOutput, read_audio
from audio.room import SimulatedRoom
from llm import LLMProvider, ProviderFactory
from tests.audio.speech import JFK_PATH, espeak, silence

QUESTIONS = [
    "What is 12 times 7?",
    "What is the capital of France?",
    "How far is the Moon from the Earth?",
    "Name three colours.",
    "Why is the sky blue?",
    "Set a timer for ten minutes.",
    "What time is it in Tokyo?",
    "Who wrote Pride and Prejudice?",
]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-x-rp+f2"]
PAUSED = [
    ("What is the capital of", "France?", 0.6),
    ("Set a timer for", "ten minutes.", 0.75),
    ("Can you tell me how far it is from", "Paris to Berlin?", 0.9),
    ("Remind me to call my sister", "tomorrow at noon.", 0.75),
]
LEAD_IN_SECONDS = 0.5
RUN_TIMEOUT = 60.0
STAGES = ("endpoint_wait_ms", "stt_ms", "ttft_ms", "first_chunk_ms", "tts_first_ms")
GOALS = {"median": 700, "p90": 1000, "worst": 1500}
HEARD_LEVEL_DB = -35.0
"""A 10 ms block within this of the input's loudest is speech (its end is the true end of speech)."""


@dataclass(frozen=True)
class Input:
    source: str
    pcm: np.ndarray
    speech_end: float
    """Stream second where the person really stopped speaking."""


@dataclass(frozen=True)
class Condition:
    name: str
    config: Config


@dataclass
class Run:
    """One input through one condition, up to the answer's first sound."""

    source: str
    latency: Latency | None
    first_audio_ms: float | None = None
    """From the true end of speech in the input to the first sample played."""
    cut: bool = False
    error: str = ""


class _FirstSoundSpeaker(WavFileOutput):
    """The room's speaker, telling when the answer's first sound started and what it said."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.first_sound = asyncio.Event()
        self.first_sound_at: float | None = None
        self.first_text = ""

    async def play(self, chunk: AudioChunk) -> None:
        if self.first_sound_at is None:
            self.first_sound_at = time.monotonic() - self.started
            self.first_text = chunk.text
            self.first_sound.set()
        await super().play(chunk)


def _speech_blocks(pcm: np.ndarray) -> tuple[np.ndarray, int]:
    """Indices of the 10 ms blocks that are speech (within HEARD_LEVEL_DB of the loudest), and the block size."""
    block = SAMPLE_RATE // 100
    blocks = pcm[: len(pcm) // block * block].reshape(-1, block)
    level = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-12)
    return np.nonzero(level >= level.max() + HEARD_LEVEL_DB)[0], block


def speech_end(pcm: np.ndarray) -> float:
    """The stream second after the last 10 ms block of speech."""
    loud, block = _speech_blocks(pcm)
    return (int(loud[-1]) + 1) * block / SAMPLE_RATE


def trimmed(pcm: np.ndarray) -> np.ndarray:
    """``pcm`` from its first block of speech to its last: a pause put between two is the pause heard."""
    loud, block = _speech_blocks(pcm)
    return pcm[int(loud[0]) * block : (int(loud[-1]) + 1) * block]


def first_sound(path: Path) -> float | None:
    """The second of the first sample a speaker's WAV file holds, or None if it is silent."""
    pcm, rate = soundfile.read(str(path), dtype="float32")
    sounding = np.nonzero(np.abs(pcm) > 1e-3)[0]
    return float(sounding[0]) / rate if len(sounding) else None


def material() -> list[Input]:
    """jfk.flac, every question in one of the voices (rotating), the sentences with a pause inside."""
    lead_in = silence(LEAD_IN_SECONDS)
    jfk = read_audio(JFK_PATH)
    inputs = [Input("jfk.flac", jfk, speech_end(jfk))]
    for number, question in enumerate(QUESTIONS):
        voice = VOICES[number % len(VOICES)]
        pcm = np.concatenate([lead_in, espeak(question, voice)])
        inputs.append(Input(f"{voice}: {question}", pcm, speech_end(pcm)))
    for number, (before, after, pause) in enumerate(PAUSED):
        voice = VOICES[number % len(VOICES)]
        pcm = np.concatenate([lead_in, trimmed(espeak(before, voice)), silence(pause), trimmed(espeak(after, voice))])
        inputs.append(Input(f"{voice}: {before} [{pause * 1000:.0f} ms] {after}", pcm, speech_end(pcm)))
    return inputs


def machine() -> str:
    def field_of(path: str, name: str) -> str:
        text = Path(path).read_text() if Path(path).exists() else ""
        return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(name)), "")

    flags = field_of("/proc/cpuinfo", "flags").split()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    cpu = field_of("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu} ({vector}), Python {platform.python_version()}"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def conditions_from(base: dict[str, Any], also: list[str]) -> list[Condition]:
    """The standard conditions plus one per ``--also``; bad keys stop here."""
    conditions = [
        ("turn model", {}),
        ("silence 700", {"audio.turn.enabled": False, "audio.vad.min_silence_ms": 700}),
        ("sequential", {"voice.early_start": False}),
    ]
    for spec in also:
        overrides: dict[str, Any] = {}
        for pair in spec.split(","):
            key, _, value = pair.partition("=")
            if not value or not key.startswith(("voice.", "audio.vad.", "audio.turn.")):
                raise SystemExit(f"--also {spec!r}: give KEY=VALUE with a voice.*, audio.vad.* or audio.turn.* key")
            overrides[key.strip()] = value.strip()
        conditions.append((",".join(pair.rsplit(".", 1)[-1] for pair in spec.split(",")), overrides))
    try:
        return [Condition(name, load_config(REPO_CONFIG, {**base, **overrides})) for name, overrides in conditions]
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None


async def one_turn(config: Config, models: SpeechModels, provider: LLMProvider, item: Input, out: Path) -> Run:
    """The first turn heard in ``item``, up to its answer's first sound."""
    session = Session(config, store=None, provider=provider)
    room = SimulatedRoom(item.pcm, out, trailing_silence=(config.audio.vad.min_silence_ms + 500) / 1000)
    speaker = room.speaker = _FirstSoundSpeaker(out)
    heard_at: list[float] = []

    def on_event(event: VoiceEvent | Any) -> None:
        if isinstance(event, Heard) and not heard_at:
            heard_at.append(time.monotonic() - speaker.started)

    loop = VoiceLoop.from_config(config, session, models, room.microphone, speaker, on_event)
    running = asyncio.create_task(loop.run(max_turns=1))
    sounded = asyncio.create_task(speaker.first_sound.wait())
    try:
        await asyncio.wait({running, sounded}, timeout=RUN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        ended = running.done()
        failure = running.exception() if ended and not running.cancelled() else None
    finally:
        for task in (running, sounded):
            task.cancel()
        await asyncio.gather(running, sounded, return_exceptions=True)
        await speaker.close()
    latency = loop.turns[0] if loop.turns else None
    if failure is not None:
        return Run(item.source, latency, error=f"the loop failed: {failure!r}")
    if speaker.first_sound_at is None:
        return Run(item.source, latency, error="no answer" if ended else f"no answer in {RUN_TIMEOUT:.0f} s")
    cut = bool(heard_at) and heard_at[0] < item.speech_end
    return Run(item.source, latency, (speaker.first_sound_at - item.speech_end) * 1000, cut)


def show_run(condition: str, run: Run) -> None:
    latency = run.latency
    if run.error or latency is None or run.first_audio_ms is None:
        print(f"  {condition:12s} {run.source[:52]:52s} {run.error}", flush=True)
        return
    stages = " + ".join(f"{getattr(latency, stage) or 0:.0f}" for stage in STAGES)
    turn = f"p={latency.turn_probability:.2f}" if latency.turn_probability is not None else "      "
    print(f"  {condition:12s} {run.source[:52]:52s} {run.first_audio_ms:6.0f} ms {turn} {latency.stt_model:7s} "
          f"({stages})"
          f"{'  CUT: ' + repr(latency.transcript[:40]) if run.cut else ''}", flush=True)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def print_summary(conditions: list[Condition], runs: dict[str, list[Run]], rounds: int) -> None:
    width = max(14, *(len(condition.name) + 2 for condition in conditions))

    def row(label: str, values: list[float], goal: str = "", digits: int = 0) -> None:
        cells = "".join(f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}f}" for value in values)
        print(f"  {label:34s}{cells}   {goal}".rstrip())

    total = len(next(iter(runs.values())))
    print(f"\nTrue end of speech -> first sound of the answer (from the two WAV files), ms; "
          f"{total // rounds} inputs x {rounds} round(s)")
    print(f"  {'':34s}" + "".join(f"{condition.name:>{width}}" for condition in conditions) + "   goal")
    done = [[run for run in runs[c.name] if run.first_audio_ms is not None and not run.cut] for c in conditions]
    audio = [[run.first_audio_ms or 0.0 for run in column] for column in done]
    row("turns answered, not cut", [len(column) for column in done], f"of {total}")
    row("turns cut at a pause inside", [sum(run.cut for run in runs[c.name]) for c in conditions], "0")
    row("first audio, median", [statistics.median(a) if a else math.nan for a in audio], f"<= {GOALS['median']}")
    row("first audio, p90", [percentile(a, 0.9) for a in audio], f"<= {GOALS['p90']}")
    row("first audio, worst", [max(a, default=math.nan) for a in audio], f"<= {GOALS['worst']}")
    for stage in STAGES:
        row(f"  {stage}", [statistics.median([getattr(r.latency, stage) or 0.0 for r in column]) if column
                           else math.nan for column in done])
    def fallback_heard(run: Run, condition: Condition) -> bool:
        return run.latency is not None and run.latency.stt_model not in ("", condition.config.audio.stt.model)

    row("words from the fallback model", [sum(fallback_heard(r, c) for r in runs[c.name]) for c in conditions], "turns")
    row("ended by the turn model", [sum(r.latency is not None and r.latency.turn_probability is not None and
                                        r.latency.endpoint_wait_ms < c.config.audio.vad.min_silence_ms - 100
                                        for r in runs[c.name]) for c in conditions], "turns")


def fresh_config(folder: Path, settings: dict[str, str]) -> Path:
    raw = yaml.safe_load(REPO_CONFIG.read_text())
    for key, value in {"llm.local.temperature": 0, "data_dir": str(folder / "data"), **settings}.items():
        set_dotted(raw, key, value)
    path = folder / "fresh.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def fresh_processes(inputs: list[Input], count: int, folder: Path, settings: dict[str, str]) -> None:
    """``assistant listen --json`` in a new process per input: the first turn after the program starts."""
    config = fresh_config(folder, settings)
    firsts, warmups, cut = [], [], 0
    print(f"\nA fresh process per question (`assistant listen --json`), {count} questions:")
    for number, item in enumerate(inputs[:count]):
        wav, out = folder / f"fresh{number}.wav", folder / f"fresh{number}-out.wav"
        soundfile.write(str(wav), item.pcm, SAMPLE_RATE, subtype="PCM_16")
        command = [sys.executable, "-m", "assistant", "listen", "--config", str(config),
                   "--input", str(wav), "--output", str(out), "--json"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        turn = next((line for line in lines if line.get("turn")), None)
        sound = first_sound(out) if out.exists() else None
        if turn is None or sound is None:
            print(f"  {item.source[:52]:52s} no answer: {result.stderr.strip()[-200:]}")
            continue
        first = (sound - item.speech_end) * 1000
        firsts.append(first)
        warmups.append(turn["warmup_ms"])
        cut += sound < item.speech_end
        print(f"  {item.source[:52]:52s} {first:6.0f} ms first audio; warm-up {turn['warmup_ms']:.0f} ms "
              f"(loop's own figure {turn['first_audio_ms']:.0f} ms)")
    if firsts:
        print(f"  first turn of a fresh process: median {statistics.median(firsts):.0f} ms, "
              f"p90 {percentile(firsts, 0.9):.0f}, worst {max(firsts):.0f}; warm-up median "
              f"{statistics.median(warmups):.0f} ms, reported apart")


async def bench(rounds: int, fresh: int, also: list[str], settings: dict[str, str]) -> None:
    print(f"Machine: {machine()}; load average {load_average()}; settings {settings or 'as in config.yaml'}")
    with tempfile.TemporaryDirectory(prefix="voice-latency-") as temporary:
        folder = Path(temporary)
        inputs = material()
        await warm_runs(rounds, also, inputs, folder, settings)
        if fresh:
            fresh_processes([item for item in inputs if item.source != "jfk.flac"], fresh, folder, settings)
    print(f"Load average at the end: {load_average()}")


async def warm_runs(rounds: int, also: list[str], inputs: list[Input], folder: Path, settings: dict[str, str]) -> None:
    base = {"data_dir": str(folder / "data"), "llm.backend": "local", "llm.local.temperature": 0, **settings}
    conditions = conditions_from(base, also)
    config = conditions[0].config
    started = time.perf_counter()
    provider = ProviderFactory.create_from_config(config.provider_config())
    models = SpeechModels.from_config(config)
    try:
        await models.warm(Session(config, store=None, provider=provider))
        print(f"Models loaded and warm in {time.perf_counter() - started:.1f} s ({models.warm_ms} ms each, "
              f"together); {len(inputs)} inputs x {len(conditions)} conditions x {rounds} round(s)")
        runs: dict[str, list[Run]] = {condition.name: [] for condition in conditions}
        for round_number in range(rounds):
            for index, item in enumerate(inputs):
                shift = (index + round_number) % len(conditions)
                for condition in conditions[shift:] + conditions[:shift]:
                    run = await one_turn(condition.config, models, provider, item, folder / "out.wav")
                    runs[condition.name].append(run)
                    show_run(condition.name, run)
        print_summary(conditions, runs, rounds)
    finally:
        models.close()
        await provider.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="times each input runs in each condition")
    parser.add_argument("--fresh", type=int, default=6, help="questions answered by a fresh process each (0: none)")
    parser.add_argument("--also", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                        help="one more condition, e.g. audio.turn.silence_ms=300")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every condition and the fresh processes, e.g. audio.stt.fallback_model=")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    settings = {}
    for pair in args.set:
        key, equals, value = pair.partition("=")
        if not equals:
            parser.error(f"--set {pair!r}: give KEY=VALUE")
        settings[key.strip()] = value.strip()
    asyncio.run(bench(args.rounds, args.fresh, args.also, settings))


if __name__ == "__main__":
    main()
