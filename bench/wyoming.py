"""Rosey's Wyoming server beside the servers Home Assistant users run today, in one run.

    .venv/bin/python bench/wyoming.py [--rounds 3] [--peers-bin /path/to/venv/bin] [--only asr|tts|wake]
                                      [--set audio.stt.compute_type=float32]

The peers are ``wyoming-faster-whisper`` and ``wyoming-piper`` (PyPI), on the
same bundled Whisper tiny.en and Piper voice, never downloading. Their pins
differ from ours, so they live in a venv of their own:

    python -m venv /tmp/peers && /tmp/peers/bin/pip install wyoming-faster-whisper wyoming-piper

Without them only Rosey's figures are printed. Every figure is a median over
``--rounds``, all through the real ``wyoming`` client over loopback TCP:

- transcript after audio-stop: jfk.flac (11 s) plus 1 s of silence, as a
  satellite sends it, at real-time pace and as fast as possible; with WER
- Wyoming vs the Transcriber in-process on the same audio (as fast as possible)
- TTS first audio-chunk after ``synthesize``, and after the first
  ``synthesize-chunk`` of the streaming form, on two texts: three short
  sentences (streamed a sentence a chunk), where both servers' first audio is
  one Piper pass over "The kitchen light is on."; and an answer whose first
  sentence is long (streamed a word a chunk, as an LLM writes it), where
  Rosey speaks its first clause first and wyoming-piper its first sentence
- ten clients transcribing at once: throughput against one client
- a wake-word stream (hey_jarvis over jfk.flac, sent as fast as possible):
  seconds of audio scored per second, against real time

Rounds are interleaved (each server once per round, in turn, the order reversed
every other round), so a change in the machine's load falls on every server alike.

The machine is shared: compare figures of the same run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Run as a script, this file's folder comes first on the path and its name would hide the wyoming package.
sys.path[:] = [str(REPO)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import numpy as np  # noqa: E402
from wyoming.asr import Transcribe  # noqa: E402
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.info import Describe  # noqa: E402
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop  # noqa: E402
from wyoming.wake import Detect  # noqa: E402

from assistant.config import load_config  # noqa: E402
from assistant.wyoming.server import WyomingServer, close_services, load_services  # noqa: E402
from audio import read_audio  # noqa: E402
from audio.models import piper_voice_path, tiny_en_dir  # noqa: E402
from tests.wer import word_error_rate  # noqa: E402

JFK = REPO / "tests" / "audio" / "data" / "jfk.flac"
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
SENTENCES = ("The kitchen light is on. ", "The front door is locked. ", "The heating is set to twenty degrees.")
SPEECH = "".join(SENTENCES)
ANSWER = "I turned on the kitchen light, set the heating to twenty degrees and locked the front door. Good night."
ANSWER_WORDS = [word if index == 0 else " " + word for index, word in enumerate(ANSWER.split(" "))]
TTS_TEXTS = {"three short sentences": (SPEECH, list(SENTENCES)), "a long first sentence": (ANSWER, ANSWER_WORDS)}
PARTS = ("asr", "tts", "wake")
CHUNK_SAMPLES = 1024
RATE = 16_000
T = TypeVar("T")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def transcript_after_stop(port: int, pcm: bytes, paced: bool) -> tuple[float, str]:
    """Seconds from audio-stop to transcript, and the transcript."""
    step = CHUNK_SAMPLES * 2
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        began = time.perf_counter()
        for index, start in enumerate(range(0, len(pcm), step)):
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[start:start + step]).event())
            if paced:
                await asyncio.sleep(max(0.0, began + (index + 1) * CHUNK_SAMPLES / RATE - time.perf_counter()))
        await client.write_event(AudioStop().event())
        stopped = time.perf_counter()
        while (event := await client.read_event()) is not None and event.type != "transcript":
            pass
        return time.perf_counter() - stopped, event.data["text"] if event else ""


async def first_audio(port: int, text: str, pieces: list[str] | None) -> float:
    """Seconds from the request (or the first text chunk) to the first audio-chunk; ``pieces`` streams ``text``."""
    streaming = pieces is not None
    async with AsyncTcpClient("127.0.0.1", port) as client:
        if streaming:
            await client.write_event(SynthesizeStart().event())
        asked = time.perf_counter()
        if streaming:
            for piece in pieces:
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(Synthesize(text=text).event())
            await client.write_event(SynthesizeStop().event())
        else:
            await client.write_event(Synthesize(text=text).event())
        first = None
        last = "synthesize-stopped" if streaming else "audio-stop"
        while (event := await client.read_event()) is not None and event.type != last:
            if event.type == "audio-chunk" and first is None:
                first = time.perf_counter() - asked
        return first if first is not None else float("nan")


async def wake_scoring(port: int, pcm: bytes) -> float:
    """Seconds from audio-start to the answer at audio-stop, for a wake-word stream sent as fast as possible."""
    step = CHUNK_SAMPLES * 2
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Detect(names=["hey_jarvis"]).event())
        started = time.perf_counter()
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        for start in range(0, len(pcm), step):
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[start:start + step]).event())
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None and event.type not in ("not-detected", "error"):
            pass
        return time.perf_counter() - started


async def median(rounds: int, measure: Callable[[], Awaitable[float]]) -> float:
    return statistics.median([await measure() for _ in range(rounds)])


async def interleaved(rounds: int, measures: dict[str, Callable[[], Awaitable[T]]]) -> dict[str, list[T]]:
    """Each measure once per round, in turn, the order reversed every other round: this VM's speed
    drifts within a run (the same transcription 1.0 s at the start, 1.7 s a minute later), and a
    fixed order would hand the drift to whichever server runs second."""
    results: dict[str, list[T]] = {name: [] for name in measures}
    for round_index in range(rounds):
        order = list(measures.items())
        for name, measure in order if round_index % 2 == 0 else reversed(order):
            results[name].append(await measure())
    return results


class Peer:
    """One of the peers' servers in its own process, until closed."""

    def __init__(self, command: list[str], port: int) -> None:
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(self.log.read().decode(errors="replace")[-2000:])
            try:
                async with AsyncTcpClient("127.0.0.1", self.port) as client:
                    await client.write_event(Describe().event())
                    await client.read_event()
                return
            except OSError:
                await asyncio.sleep(0.2)
        raise RuntimeError("the peer did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_peers(bin_dir: Path | None, work: Path, parts: tuple[str, ...]) -> tuple[Peer | None, Peer | None]:
    """The peers the rows in ``parts`` compare with, if installed."""
    whisper = "asr" in parts and shutil.which("wyoming-faster-whisper", path=str(bin_dir) if bin_dir else None)
    piper = "tts" in parts and shutil.which("wyoming-piper", path=str(bin_dir) if bin_dir else None)
    asr = tts = None
    if whisper:
        port = free_port()
        asr = Peer([whisper, "--uri", f"tcp://127.0.0.1:{port}", "--model", str(tiny_en_dir()), "--data-dir",
                    str(work), "--language", "en", "--beam-size", "5", "--cpu-threads", str(os.cpu_count() or 1),
                    "--local-files-only"], port)
    if piper:
        port = free_port()
        voice = piper_voice_path()
        tts = Peer([piper, "--uri", f"tcp://127.0.0.1:{port}", "--voice", voice.name.removesuffix(".onnx"),
                    "--data-dir", str(voice.parent), "--local-files-only"], port)
    return asr, tts


async def main(rounds: int, peers_bin: Path | None, parts: tuple[str, ...], settings: dict[str, str]) -> None:
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; medians of {rounds} rounds")
    speech = np.concatenate([read_audio(JFK), np.zeros(RATE, np.float32)])
    audio = pcm16(speech)
    with tempfile.TemporaryDirectory() as work:
        config = load_config(REPO / "config.yaml",
                             {"data_dir": work, "wyoming.services": ["asr", "tts", "wake"], **settings})
        services = await load_services(config)
        server = WyomingServer(services)
        ours = await server.start("127.0.0.1", 0)
        peer_asr, peer_tts = start_peers(peers_bin, Path(work), parts)
        try:
            for peer in (peer_asr, peer_tts):
                if peer is not None:
                    await peer.ready()
            if ("asr" in parts and peer_asr is None) or ("tts" in parts and peer_tts is None):
                print("peers: not found (see the docstring: install them in their own venv, pass --peers-bin)")
            if "asr" in parts:
                await report_asr(rounds, ours, peer_asr, audio, speech, services)
            if "tts" in parts:
                await report_tts(rounds, ours, peer_tts)
            if "wake" in parts:
                await report_wake(rounds, ours, audio)
        finally:
            for peer in (peer_asr, peer_tts):
                if peer is not None:
                    peer.close()
            await server.stop()
            await close_services(services)


async def report_asr(rounds, ours, peer_asr, audio, speech, services) -> None:
    for paced in (True, False):
        label = "real-time pace" if paced else "as fast as possible"
        rows = [("rosey", ours)] + ([("wyoming-faster-whisper", peer_asr.port)] if peer_asr else [])
        measured = await interleaved(rounds, {name: lambda port=port: transcript_after_stop(port, audio, paced)
                                              for name, port in rows})
        figures = {}
        for name, results in measured.items():
            figures[name] = statistics.median(seconds for seconds, _ in results)
            wer = statistics.median(word_error_rate(JFK_TEXT, text) for _, text in results)
            print(f"transcript after audio-stop, {label}: {name:24s} {figures[name] * 1000:7.0f} ms   WER {wer:.3f}")
        if "wyoming-faster-whisper" in figures:
            print(f"  ratio rosey / peer: {figures['rosey'] / figures['wyoming-faster-whisper']:.2f}")

    async def in_process() -> float:
        started = time.perf_counter()
        await services.transcriber.transcribe_async(speech)
        return time.perf_counter() - started

    async def over_wyoming() -> float:
        started = time.perf_counter()
        await transcript_after_stop(ours, audio, paced=False)
        return time.perf_counter() - started

    both = await interleaved(rounds, {"in-process": in_process, "wyoming": over_wyoming})
    local, remote = statistics.median(both["in-process"]), statistics.median(both["wyoming"])
    print(f"whole request, as fast as possible: wyoming {remote * 1000:.0f} ms, in-process {local * 1000:.0f} ms, "
          f"ratio {remote / local:.2f}")

    short = pcm16(read_audio(JFK)[: 4 * RATE])
    one = await median(rounds, lambda: _clients(ours, short, 1))
    ten = await median(rounds, lambda: _clients(ours, short, 10))
    print(f"ten clients at once: {ten:.2f} s for ten transcriptions, one client {one:.2f} s for one; "
          f"throughput ratio {10 * one / ten:.2f}x")


async def report_tts(rounds, ours, peer_tts) -> None:
    rows = [("rosey", ours)] + ([("wyoming-piper", peer_tts.port)] if peer_tts else [])
    for _, port in rows:  # wyoming-piper loads its voice on the first request; Rosey's is warm at start
        await first_audio(port, "Ready.", None)
    for text_label, (text, pieces) in TTS_TEXTS.items():
        for streamed in (None, pieces):
            label = f"{'streaming' if streamed else 'plain'}, {text_label}"
            measured = await interleaved(rounds, {name: lambda port=port: first_audio(port, text, streamed)
                                                  for name, port in rows})
            figures = {name: statistics.median(results) for name, results in measured.items()}
            for name, seconds in figures.items():
                print(f"TTS first audio-chunk, {label}: {name:14s} {seconds * 1000:6.0f} ms")
            if "wyoming-piper" in figures:
                print(f"  ratio rosey / peer: {figures['rosey'] / figures['wyoming-piper']:.2f}")


async def report_wake(rounds, ours, audio) -> None:
    scoring = await median(rounds, lambda: wake_scoring(ours, audio))
    seconds = len(audio) / 2 / RATE
    print(f"wake word (hey_jarvis): {seconds:.0f} s of audio scored in {scoring:.2f} s, "
          f"{seconds / scoring:.1f}x real time")


async def _clients(port: int, pcm: bytes, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(transcript_after_stop(port, pcm, paced=False) for _ in range(count)))
    return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers-bin", type=Path, default=None, help="the bin directory of the peers' venv")
    parser.add_argument("--only", choices=PARTS, action="append", help="only these rows (repeatable); all by default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", type=lambda pair: pair.split("=", 1),
                        help="a config.yaml setting for Rosey, e.g. audio.stt.compute_type=float32 (repeatable)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.peers_bin, tuple(arguments.only or PARTS), dict(arguments.set)))
