"""How soon the answer is heard after the person stops speaking, through the real voice loop.

    .venv/bin/python bench/voice_latency.py [--rounds 2] [--also audio.vad.pause_ms=96 ...]

Drives the loop of ``assistant listen`` (``VoiceLoop.from_config``): a
WAV file as the microphone, paced in real time, and a WAV file as the
speaker on the same clock; Whisper, Piper and the embedded model loaded
once and warmed; the default config.yaml with ``llm.local.temperature: 0``
and a temporary data directory; a fresh ``Session`` without a store per run,
so the history never grows.

Inputs: jfk.flac (real speech: its one-second pauses end the first turn
after "And so my fellow Americans") and QUESTIONS spoken by Piper. Every
input runs once per condition per round, the order of the conditions
rotating from input to input so none always goes first:

- early:       the defaults (``voice.early_start: true``, ``vad.min_silence_ms: 700``)
- sequential:  ``voice.early_start: false``: each stage starts when the one before ends
- one more early-start condition per ``--also KEY=VALUE[,KEY=VALUE]`` (voice.* and
  audio.vad.* keys, which the loop reads per run); without ``--also``, min_silence_ms 500

A run stops at the answer's first sound: by then every figure of its
``Latency`` is known, and the rest of the answer would only make the run
longer. Printed per condition: median and worst ``first_audio_ms``, the
median sum of the stages (``Latency.stages_ms``), their median ratio and
difference (for the sequential run, the loop's own overhead), the time from
the end of the turn to the sound, each stage's median, and how many Whisper
runs a turn took (early starts thrown away on resumed speech cost one each).
Then the early-start gain; what each condition's endpointer makes of all of
jfk.flac (turns, pauses, early starts thrown away), the cost of a shorter
``min_silence_ms``; Whisper's real-time factor over the utterances the loop
transcribed; and Piper's, alone and inside the loop (where the model
competes with it for the cores). The machine and its load average come
first: the machine is shared, so compare conditions of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import REPO_CONFIG, Config, ConfigError, load_config
from assistant.session import Session
from assistant.voice.events import Latency
from assistant.voice.loop import VoiceLoop
from assistant.voice.models import SpeechModels
from audio import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioChunk,
    Endpointer,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    Synthesizer,
    Transcript,
    WavFileInput,
    WavFileOutput,
    read_audio,
)
from llm import LLMProvider, ProviderFactory

JFK_PATH = Path(__file__).resolve().parent.parent / "tests" / "audio" / "data" / "jfk.flac"
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
LEAD_IN_SECONDS = 0.5
"""Silence before each question, as a microphone hears before a person speaks."""
RUN_TIMEOUT = 60.0
FRAME_MS = 32
STAGES = ("endpoint_wait_ms", "stt_ms", "ttft_ms", "first_chunk_ms", "tts_first_ms")
GOAL_FIRST_AUDIO_MS = 1000
GOAL_OVERHEAD = 1.1
GOAL_GAIN = 0.7
READY_SLACK_MS = 20
"""An early answer whose sound came this soon after the turn ended was ready and waiting."""


@dataclass(frozen=True)
class Condition:
    name: str
    config: Config


@dataclass
class Run:
    """One input through one condition, up to the answer's first sound."""

    source: str
    latency: Latency | None
    whisper_runs: int
    first_chunk: str = ""
    error: str = ""


class _RecordingTranscriber:
    """The loop's Transcriber, keeping every Transcript it returns (for Whisper's real-time factor)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.transcripts: list[Transcript] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def transcribe_async(self, pcm: np.ndarray) -> Transcript:
        transcript = await self._inner.transcribe_async(pcm)
        self.transcripts.append(transcript)
        return transcript


class _FirstSoundSpeaker(WavFileOutput):
    """A WAV speaker that tells when the answer's first sound reached it, and what it said."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.first_sound = asyncio.Event()
        self.first_text = ""

    async def play(self, chunk: AudioChunk) -> None:
        if not self.first_sound.is_set():
            self.first_text = chunk.text
            self.first_sound.set()
        await super().play(chunk)


def machine() -> str:
    def field_of(path: str, name: str) -> str:
        text = Path(path).read_text() if Path(path).exists() else ""
        return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(name)), "")

    flags = field_of("/proc/cpuinfo", "flags").split()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    memory_kib = field_of("/proc/meminfo", "MemTotal").split()
    memory_gib = int(memory_kib[0]) / 2**20 if memory_kib else 0
    cpu = field_of("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu} ({vector}), {memory_gib:.0f} GiB, Python {platform.python_version()}"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def conditions_from(base: dict[str, Any], also: list[str]) -> list[Condition]:
    """The two standard conditions plus one early-start condition per ``--also``; bad keys stop here."""
    conditions = [("early", {"voice.early_start": True}), ("sequential", {"voice.early_start": False})]
    for spec in also:
        overrides: dict[str, Any] = {"voice.early_start": True}
        for pair in spec.split(","):
            key, _, value = pair.partition("=")
            if not value or not key.startswith(("voice.", "audio.vad.")):
                raise SystemExit(f"--also {spec!r}: give KEY=VALUE with a voice.* or audio.vad.* key, "
                                 "e.g. audio.vad.min_silence_ms=500 (other keys are loaded once, not per run)")
            overrides[key.strip()] = value.strip()
        conditions.append((",".join(pair.rsplit(".", 1)[-1] for pair in spec.split(",")), overrides))
    try:
        return [Condition(name, load_config(REPO_CONFIG, {**base, **overrides})) for name, overrides in conditions]
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None


def make_questions(synthesizer: Synthesizer, folder: Path) -> tuple[list[tuple[str, Path]], float]:
    """Each question as a WAV after a moment of silence; returns them and Piper's real-time factor."""
    import soundfile

    rate = synthesizer.sample_rate
    inputs, busy, spoken = [], 0.0, 0.0
    for number, question in enumerate(QUESTIONS, 1):
        started = time.perf_counter()
        chunks = list(synthesizer.synthesize(question))
        busy += time.perf_counter() - started
        pcm = np.concatenate([chunk.pcm for chunk in chunks])
        spoken += len(pcm) / rate - len(chunks) * synthesizer.settings.sentence_silence  # padding costs nothing
        path = folder / f"q{number}.wav"
        lead_in = np.zeros(round(LEAD_IN_SECONDS * rate), np.float32)
        soundfile.write(str(path), np.concatenate([lead_in, pcm]), rate, subtype="PCM_16")
        inputs.append((question, path))
    return inputs, busy / spoken


async def one_turn(config: Config, ears: SpeechModels, provider: LLMProvider, source: str, wav: Path, out: Path) -> Run:
    """The first turn heard in ``wav``, up to its answer's first sound."""
    transcriber: _RecordingTranscriber = ears.transcriber  # type: ignore[assignment]
    whisper_before = len(transcriber.transcripts)
    session = Session(config, store=None, provider=provider)
    trailing = (config.audio.vad.min_silence_ms + 500) / 1000  # as `assistant listen` pads its input
    microphone = WavFileInput(wav, realtime=True, trailing_silence=trailing)
    speaker = _FirstSoundSpeaker(out)
    loop = VoiceLoop.from_config(config, session, ears, microphone, speaker)
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
    error = ""
    if failure is not None:
        error = f"the loop failed: {failure!r}"
    elif latency is not None and latency.interrupted and latency.first_audio_ms is None:
        error = "the person spoke again before the answer was heard"
    elif latency is None or latency.first_audio_ms is None:
        error = "the loop ended without an answer" if ended else f"no answer in {RUN_TIMEOUT:.0f} s"
    return Run(source, latency, len(transcriber.transcripts) - whisper_before, speaker.first_text, error)


def show_run(condition: str, run: Run) -> None:
    latency = run.latency
    if run.error or latency is None:
        print(f"  {condition:18s} {run.source[:30]:30s} {run.error}", flush=True)
        return
    stages = " + ".join(f"{getattr(latency, stage) or 0:.0f}" for stage in STAGES)
    print(f"  {condition:18s} {run.source[:30]:30s} {latency.first_audio_ms:6.0f} ms  ({stages})  "
          f"heard {latency.transcript[:34]!r}, said {run.first_chunk[:36]!r}", flush=True)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass
class Summary:
    """The figures of one condition."""

    turns: list[Latency]
    whisper_runs: list[int] = field(default_factory=list)

    @property
    def first_audio(self) -> list[float]:
        return [turn.first_audio_ms or 0.0 for turn in self.turns]

    def median(self, value: Any) -> float:
        return _median([value(turn) for turn in self.turns])


def print_summary(conditions: list[Condition], runs: dict[str, list[Run]], rounds: int) -> None:
    """The table of medians with the goals beside them."""
    summaries = {
        name: Summary([run.latency for run in done if not run.error and run.latency is not None],
                      [run.whisper_runs for run in done if not run.error])
        for name, done in runs.items()
    }
    width = max(13, *(len(condition.name) + 2 for condition in conditions))

    def row(label: str, values: list[float], goal: str = "", digits: int = 0) -> None:
        cells = "".join(f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}f}" for value in values)
        print(f"  {label:30s}{cells}   {goal}".rstrip())

    columns = [summaries[condition.name] for condition in conditions]
    total = len(next(iter(runs.values())))
    print(f"\nEnd of speech -> first sound of the answer, ms; {total // rounds} inputs x {rounds} round(s), "
          "median unless noted")
    print(f"  {'':30s}" + "".join(f"{condition.name:>{width}}" for condition in conditions) + "   goal")
    row("turns measured", [len(s.turns) for s in columns], f"of {total}")
    row("first audio", [_median(s.first_audio) for s in columns], f"<= {GOAL_FIRST_AUDIO_MS}")
    row("first audio, worst", [max(s.first_audio, default=math.nan) for s in columns])
    row("stages (sum)", [s.median(lambda t: t.stages_ms) for s in columns])
    row("first audio / stages", [s.median(lambda t: t.first_audio_ms / t.stages_ms) for s in columns],
        f"<= {GOAL_OVERHEAD} in the sequential run (the loop's overhead)", digits=2)
    row("first audio - stages", [s.median(lambda t: t.first_audio_ms - t.stages_ms) for s in columns])
    for stage in STAGES:
        row(f"  {stage}", [s.median(lambda t, stage=stage: getattr(t, stage) or 0.0) for s in columns])
    row("after the turn ended", [s.median(lambda t: t.first_audio_ms - t.endpoint_wait_ms) for s in columns],
        "first audio - endpoint wait")
    row("answer ready when it ended", [sum(t.first_audio_ms - t.endpoint_wait_ms <= READY_SLACK_MS for t in s.turns)
                                       for s in columns], "turns whose early answer waited for the end")
    row("Whisper runs per turn", [statistics.mean(s.whisper_runs) if s.whisper_runs else math.nan for s in columns],
        "1 = no early start thrown away", digits=2)
    gain = _median(summaries["early"].first_audio) / _median(summaries["sequential"].first_audio)
    print(f"  early-start gain: first audio early / sequential = {gain:.2f}   (goal <= {GOAL_GAIN})")
    for condition in conditions:
        vad = condition.config.audio.vad
        print(f"  {condition.name}: the turn ends after {-(-vad.min_silence_ms // FRAME_MS) * FRAME_MS} ms of silence "
              f"(min_silence_ms {vad.min_silence_ms}); an early start begins after "
              f"{-(-vad.pause_ms // FRAME_MS) * FRAME_MS} ms (pause_ms {vad.pause_ms})")


def print_endpointing(conditions: list[Condition]) -> None:
    """What each condition's endpointer makes of real speech with real pauses: jfk.flac, whole."""
    pcm = np.concatenate([read_audio(JFK_PATH), np.zeros(SAMPLE_RATE, np.float32)])
    print(f"\nEndpointing all of jfk.flac ({len(pcm) / SAMPLE_RATE - 1:.0f} s, one sentence; offline, same VAD):")
    for condition in conditions:
        endpointer = Endpointer(condition.config.audio.vad)
        frames = range(0, len(pcm), FRAME_SAMPLES)
        events = [event for start in frames for event in endpointer.feed(pcm[start : start + FRAME_SAMPLES])]
        events += endpointer.flush()
        quiet_from, silences = None, []
        for event in events:
            if isinstance(event, SpeechPaused | SpeechEnded):
                quiet_from = event.at if isinstance(event, SpeechPaused) else event.end
            elif isinstance(event, SpeechStarted | SpeechResumed) and quiet_from is not None:
                ended_turn = "" if isinstance(event, SpeechResumed) else "*"
                silences.append(f"{(event.at - quiet_from) * 1000:.0f}{ended_turn}")
                quiet_from = None
        turns = sum(isinstance(event, SpeechEnded) for event in events)
        paused = sum(isinstance(event, SpeechPaused) for event in events)
        resumed = sum(isinstance(event, SpeechResumed) for event in events)
        print(f"  {condition.name:20s} {turns} turns; {paused} pauses of pause_ms, {resumed} resumed (an early start "
              f"thrown away); silences in ms: {', '.join(silences)} (* ended a turn)")


def print_speed(config: Config, transcripts: list[Transcript], tts_rtf: float,
                first_chunks: list[str], synthesizer: Synthesizer, runs: dict[str, list[Run]]) -> None:
    heard = [t for t in transcripts if t.audio_seconds > 0]
    if not heard:
        print("\nWhisper transcribed nothing: no speed figures")
        return
    stt = config.audio.stt
    print(f"\nWhisper {stt.model}, beam {stt.beam_size}, over the {len(heard)} utterances the loop transcribed "
          f"({statistics.mean(t.audio_seconds for t in heard):.1f} s each on average):")
    print(f"  real-time factor {sum(t.seconds for t in heard) / sum(t.audio_seconds for t in heard):.3f}, "
          f"{1000 * _median([t.seconds for t in heard]):.0f} ms median per utterance")
    alone = []
    for text in first_chunks:
        started = time.perf_counter()
        next(iter(synthesizer.synthesize(text)), None)
        alone.append((time.perf_counter() - started) * 1000)
    in_loop = [run.latency.tts_first_ms for done in runs.values() for run in done
               if run.latency is not None and run.latency.tts_first_ms is not None]
    print("Piper, the bundled voice:")
    print(f"  real-time factor {tts_rtf:.3f} (the {len(QUESTIONS)} questions, synthesized alone)")
    print(f"  the answers' first chunks: {_median(alone):.0f} ms median alone, "
          f"{_median(in_loop):.0f} ms in the loop (tts_first_ms, every condition)")


async def bench(rounds: int, also: list[str]) -> None:
    print(f"Machine: {machine()}; load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="voice-latency-") as temporary:
        await _bench(rounds, also, Path(temporary))


async def _bench(rounds: int, also: list[str], folder: Path) -> None:
    base = {"data_dir": str(folder / "data"), "llm.backend": "local", "llm.local.temperature": 0}
    conditions = conditions_from(base, also)
    config = conditions[0].config

    started = time.perf_counter()
    provider = ProviderFactory.create_from_config(config.provider_config())
    ears = SpeechModels.from_config(config)
    recorder = _RecordingTranscriber(ears.transcriber)
    ears.transcriber = recorder  # type: ignore[assignment]
    try:
        await ears.warm(Session(config, store=None, provider=provider))
        questions, tts_rtf = make_questions(ears.synthesizer, folder)
        inputs = [("jfk.flac", JFK_PATH), *questions]
        print(f"Whisper, Piper and the model loaded and warm in {time.perf_counter() - started:.1f} s; "
              f"{len(inputs)} inputs x {len(conditions)} conditions x {rounds} round(s)")
        await one_turn(config, ears, provider, "warm-up", questions[0][1], folder / "out.wav")  # not counted
        recorder.transcripts.clear()

        runs: dict[str, list[Run]] = {condition.name: [] for condition in conditions}
        for round_number in range(rounds):
            for index, (source, wav) in enumerate(inputs):
                shift = (index + round_number) % len(conditions)
                for condition in conditions[shift:] + conditions[:shift]:
                    run = await one_turn(condition.config, ears, provider, source, wav, folder / "out.wav")
                    runs[condition.name].append(run)
                    show_run(condition.name, run)

        print_summary(conditions, runs, rounds)
        print_endpointing(conditions)
        first_chunks = sorted({run.first_chunk for done in runs.values() for run in done if run.first_chunk})
        print_speed(config, recorder.transcripts, tts_rtf, first_chunks, ears.synthesizer, runs)
        print(f"Load average at the end: {load_average()}")
    finally:
        ears.close()
        await provider.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="times each input runs in each condition")
    parser.add_argument("--also", action="append", metavar="KEY=VALUE[,KEY=VALUE]",
                        help="one more early-start condition (default: audio.vad.min_silence_ms=500); "
                             "--also none runs only the two standard ones")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    also = args.also if args.also is not None else ["audio.vad.min_silence_ms=500"]
    asyncio.run(bench(args.rounds, [spec for spec in also if spec != "none"]))


if __name__ == "__main__":
    main()
