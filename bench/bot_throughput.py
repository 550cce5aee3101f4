"""What the Rosey bot adds to a model call, and how much work it does at once.

    .venv/bin/python bench/bot_throughput.py [--delay 0.2] [--sequential 40] [--channels 50] [--turns 4]
                                             [--limits readme|off] [--only sqlite|jetstream|shared]
                                             [--profile] [--compare DIR]

Everything is real and local: a `nats-server -js` on a free port, `assistant
bot` processes, and a backend double (the tests' scripted OpenAI-compatible
server, in its own process) that answers every chat after a fixed ``--delay``.

The bots run with config.yaml's rate limits (``--limits off`` for none), each
request from a user of its own, as in a busy room. For each setup (one bot on
SQLite, one bot on JetStream KV, two bots sharing JetStream KV) it prints:

- overhead: p50 and p90 of a `rosey.llm.chat` request/reply minus a direct
  `provider.complete()` to the same double, the two alternating in the same run
  (goal: p50 <= 1 ms), and what is left of it above a bare NATS request/reply
  (the bot's own part); the bot's CPU per request against a direct call's;
- throughput: ``--channels`` channels at once, ``--turns`` turns each, as a
  ratio to one request at a time (goal: >= 30x).

For scale it also prints a bare NATS request/reply between two processes after
the same idle time (the floor under the overhead: waking processes on a busy
machine), and the same load as direct calls with no bot (the ceiling of the
throughput: what the double and the machine allow).

``--profile`` runs each bot under cProfile and prints, per request served, the
CPU time spent in each part (the plugin, the provider, httpx, nats-py, the
event loop, ...) and the functions that cost most; cProfile slows the bot, so
take the overhead figures from a run without it. ``--compare DIR`` measures
each setup a second time with the bots run from DIR (say, an export of the
previous commit: ``git archive HEAD | tar -x -C DIR``), in the same run, for a
before/after on the same machine load.

Figures go to BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import nats  # noqa: E402
import yaml  # noqa: E402

from llm import Message, MessageRole, ProviderFactory  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.rosey.conftest import NatsServer  # noqa: E402

NO_LIMITS = {"requests_per_minute": 0, "requests_per_hour": 0, "requests_per_day": 0,
             "channel_requests_per_hour": 0, "tokens_per_day": 0}
SETUPS = (("sqlite", "1 bot, SQLite", 1, "sqlite"), ("jetstream", "1 bot, JetStream KV", 1, "jetstream"),
          ("shared", "2 bots, shared JetStream KV", 2, "jetstream"))
README_LIMITS = yaml.safe_load((REPO / "config.yaml").read_text())["rosey"]["rate_limits"]
"""config.yaml's limits, as a new operator runs the bot; every request comes from a user of its own."""


def start_double(delay: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", f"from tests.rosey.scripted_backend import serve; serve({port}, {delay})"], cwd=REPO
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/models", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the backend double did not start")


PARTS = (
    ("start-up (imports, module code)", ("<frozen", "importlib")),
    ("plugin (assistant/rosey)", ("/assistant/rosey/",)),
    ("rest of assistant", ("/assistant/",)),
    ("llm provider", ("/llm/",)),
    ("httpx + httpcore", ("/httpx/", "/httpcore/", "/h11/")),
    ("nats-py", ("/nats/",)),
    ("pydantic", ("/pydantic",)),
    ("json", ("/json/",)),
    ("event loop (asyncio, selectors, ssl)", ("/asyncio/", "selectors", "/ssl.py", "socket")),
)


def part_of(filename: str, function: str) -> str:
    if function == "<module>":
        return PARTS[0][0]
    for name, markers in PARTS:
        if any(marker in filename for marker in markers):
            return name
    return "other (stdlib, C calls)"


def print_profile(profiles: list[Path], requests: int) -> None:
    """CPU per request by part, and the costliest functions by their own time, over the bots' profiles."""
    stats = pstats.Stats(*map(str, profiles))
    by_part: dict[str, float] = {}
    own: list[tuple[float, str]] = []
    for (filename, line, function), (_, _, own_time, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        part = part_of(filename, function)
        by_part[part] = by_part.get(part, 0.0) + own_time
        if part != PARTS[0][0]:
            own.append((own_time, f"{Path(filename).name}:{line} {function}"))
    ms = 1000 / requests
    print(f"  profile (cProfile; CPU ms per request over {requests} requests, start-up in total):")
    for part, seconds in sorted(by_part.items(), key=lambda item: -item[1]):
        figure = f"{seconds:.2f} s in total" if part == PARTS[0][0] else f"{seconds * ms:.3f} ms"
        print(f"    {part:40s} {figure}")
    print("  costliest functions (own time per request):")
    for seconds, where in sorted(own, reverse=True)[:12]:
        print(f"    {seconds * ms:.3f} ms  {where}")


def start_bots(
    count: int, workdir: Path, backend_url: str, nats_url: str, memory: str, bucket: str, profile: bool = False,
    repo: Path = REPO, limits: dict | None = None,
) -> list:
    bots = []
    for i in range(count):
        config = {
            "data_dir": str(workdir / f"data-{bucket}-{i}"),
            "llm": {"backend": "mlx", "mlx": {"base_url": backend_url, "model": "double", "max_retries": 0}},
            "rosey": {"nats_url": nats_url, "max_concurrent": 64,
                      "rate_limits": NO_LIMITS if limits is None else limits,
                      "memory": {"backend": memory, "bucket": bucket}},
        }
        path = workdir / f"{bucket}-{i}.yaml"
        path.write_text(yaml.safe_dump(config))
        log = workdir / f"{bucket}-{i}.log"
        profiler = ["-m", "cProfile", "-o", str(profile_path(log))] if profile else []
        process = subprocess.Popen([sys.executable, *profiler, "-m", "assistant", "bot", "--config", str(path)],
                                   cwd=repo, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        bots.append((process, log))
    deadline = time.monotonic() + 60
    for process, log in bots:
        while "Rosey LLM plugin serving" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"a bot did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
    return bots


def profile_path(log: Path) -> Path:
    return log.with_suffix(".prof")


def stop_bots(bots: list) -> None:
    for process, _ in bots:
        process.send_signal(signal.SIGTERM)
    for process, _ in bots:
        process.wait(30)


async def bot_chat(nc, channel: str, text: str, user: str = "bench") -> float:
    started = time.perf_counter()
    reply = await nc.request("rosey.llm.chat", json.dumps(
        {"channel": channel, "user": user, "message": text}).encode(), timeout=60)
    elapsed = time.perf_counter() - started
    if not json.loads(reply.data)["success"]:
        raise RuntimeError(f"the bot failed: {reply.data!r}")
    return elapsed


ECHO = """
import asyncio, sys, nats
async def main():
    nc = await nats.connect(sys.argv[1])
    async def answer(msg):
        await msg.respond(msg.data)
    await nc.subscribe("bench.echo", cb=answer)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_echo(nats_url: str) -> subprocess.Popen[bytes]:
    """A process of its own that answers ``bench.echo``: the bot's hop with none of the bot's work."""
    return subprocess.Popen([sys.executable, "-c", ECHO, nats_url])


async def echo_round_trip(nc) -> float:
    started = time.perf_counter()
    await nc.request("bench.echo", b"{}", timeout=10)
    return time.perf_counter() - started


async def until_answered(nc, subject: str) -> None:
    """Wait until a subscription on another connection answers: nats-py's flush does not promise it is live."""
    for _ in range(200):
        try:
            await nc.request(subject, b"", timeout=10)
            return
        except nats.errors.NoRespondersError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nobody answers on {subject}")


async def direct_call(provider, text: str) -> float:
    started = time.perf_counter()
    await provider.complete([Message(MessageRole.SYSTEM, "You are Rosey."), Message(MessageRole.USER, text)])
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    setup: str, nc, provider, args: argparse.Namespace, tag: str, processes: dict[str, list[int]]
) -> None:
    """One request at a time (bot, direct call and a bare NATS echo alternating, each after the
    backend's delay of idleness, as in real use), then ``--channels`` channels at once."""
    bot_times, direct_times, echo_times, direct_cpus = [], [], [], []
    await bot_chat(nc, f"{tag}-warm", "warm up")
    await direct_call(provider, "warm up")
    bot_cpu_before = sum(map(cpu_seconds, processes["bot"]))
    for i in range(args.sequential):
        cpu_started = time.process_time()
        direct_times.append(await direct_call(provider, f"question {i}"))
        direct_cpus.append(time.process_time() - cpu_started)
        bot_times.append(await bot_chat(nc, f"{tag}-seq-{i % 10}", f"question {i}", f"{tag}-user-{i}"))
        await asyncio.sleep(args.delay)
        echo_times.append(await echo_round_trip(nc))
    overheads = [b - d for b, d in zip(bot_times, direct_times)]
    direct_cpu = statistics.mean(direct_cpus)
    bot_cpu_one = (sum(map(cpu_seconds, processes["bot"])) - bot_cpu_before) / args.sequential
    one_at_a_time = 1 / statistics.mean(bot_times)

    async def channel(index: int) -> None:
        for turn in range(args.turns):
            await bot_chat(nc, f"{tag}-par-{index}", f"turn {turn}", f"{tag}-par-user-{index}")

    cpu_before = {name: sum(map(cpu_seconds, pids)) for name, pids in processes.items()}
    started = time.perf_counter()
    await asyncio.gather(*(channel(i) for i in range(args.channels)))
    at_once = args.channels * args.turns / (time.perf_counter() - started)
    requests = args.channels * args.turns
    cpu = {name: (sum(map(cpu_seconds, pids)) - cpu_before[name]) / requests for name, pids in processes.items()}
    ms = 1000
    print(f"{setup}:")
    print(f"  one request:   bot {statistics.median(bot_times) * ms:.1f} ms p50, "
          f"direct {statistics.median(direct_times) * ms:.1f} ms p50")
    floor, overhead = statistics.median(echo_times), statistics.median(overheads)
    print(f"  overhead:      {overhead * ms:.2f} ms p50, {percentile(overheads, 0.9) * ms:.2f} ms "
          f"p90   (goal p50 <= 1 ms); of which a bare NATS request/reply between two processes after the same "
          f"idle time: {floor * ms:.2f} ms p50; the rest, the bot's own: {(overhead - floor) * ms:.2f} ms")
    print(f"  bot CPU per request one at a time: {bot_cpu_one * ms:.2f} ms; a direct call's in the bench client: "
          f"{direct_cpu * ms:.2f} ms")
    print(f"  throughput:    {one_at_a_time:.2f} req/s one at a time, {at_once:.1f} req/s with {args.channels} "
          f"channels x {args.turns} turns = {at_once / one_at_a_time:.1f}x   (goal >= 30x)")
    print("  CPU per request at once: " + ", ".join(f"{name} {seconds * ms:.2f} ms" for name, seconds in cpu.items()))


async def direct_ceiling(provider, args: argparse.Namespace) -> None:
    """The most the double and this machine allow: direct calls, as many at once as the bot gets."""
    one = statistics.mean([await direct_call(provider, f"q {i}") for i in range(10)])

    async def channel(index: int) -> None:
        for turn in range(args.turns):
            await direct_call(provider, f"turn {turn}")

    started = time.perf_counter()
    await asyncio.gather(*(channel(i) for i in range(args.channels)))
    at_once = args.channels * args.turns / (time.perf_counter() - started)
    print(f"direct calls, no bot (the ceiling): {1 / one:.2f} req/s one at a time, {at_once:.1f} req/s "
          f"{args.channels} at once = {at_once * one:.1f}x\n")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="rosey-bench-") as tmp:
        workdir = Path(tmp)
        server = NatsServer(workdir / "jetstream")
        server.start()
        double, backend_url = start_double(args.delay)
        provider = ProviderFactory.create("mlx", {"llm": {"mlx": {"base_url": backend_url, "model": "double"}}})
        clients = []
        echo = start_echo(server.url)
        try:
            nc = await nats.connect(server.url)
            clients.append(nc)
            await until_answered(nc, "bench.echo")
            print(f"backend double answering after {args.delay * 1000:.0f} ms; {args.sequential} requests one at "
                  f"a time, alternating with direct calls; then {args.channels} channels at once\n")
            await direct_ceiling(provider, args)
            setups = [(name, count, memory) for key, name, count, memory in SETUPS
                      if not args.only or key in args.only]
            repos = [(REPO, "")] + ([(args.compare.resolve(), f" [bots from {args.compare}]")] if args.compare else [])
            for (name, count, memory), (repo, label) in itertools.product(setups, repos):
                setup = name + label
                tag = f"s{count}{memory[0]}{'c' if label else ''}"
                bots = start_bots(count, workdir, backend_url, server.url, memory, f"bench-{tag}", args.profile, repo,
                                  README_LIMITS if args.limits == "readme" else None)
                try:
                    processes = {"bot": [bot.pid for bot, _ in bots], "backend double": [double.pid],
                                 "nats-server": [server.process.pid], "bench client": [os.getpid()]}
                    await measure(setup, nc, provider, args, tag, processes)
                finally:
                    stop_bots(bots)
                if args.profile:
                    print_profile([profile_path(log) for _, log in bots],
                                  1 + args.sequential + args.channels * args.turns)
        finally:
            for client in clients:
                await client.close()
            await provider.close()
            for process in (double, echo):
                process.terminate()
                process.wait()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.2, help="the double's answer time in seconds")
    parser.add_argument("--sequential", type=int, default=40, help="requests one at a time")
    parser.add_argument("--channels", type=int, default=50, help="channels at once")
    parser.add_argument("--turns", type=int, default=4, help="turns per channel at once")
    parser.add_argument("--profile", action="store_true", help="run the bots under cProfile and print where time goes")
    parser.add_argument("--compare", type=Path, help="also measure bots run from this tree, in the same run")
    parser.add_argument("--limits", choices=("readme", "off"), default="readme",
                        help="config.yaml's rate limits (each request from a user of its own), or none")
    parser.add_argument("--only", choices=("sqlite", "jetstream", "shared"), action="append",
                        help="measure only these setups (repeatable): one bot on SQLite, on JetStream KV, two bots")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(parser.parse_args()))
