"""How soon the app is usable, in fresh processes: the interpreter, `--help`, the TUI's import, a real terminal.

Part 2 of ``bench/tui_stream.py``, which prints the figures.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TYPED = "λ"  # typed at launch: no escape sequence holds its bytes
LAUNCH_TIMEOUT = 60.0  # a hang guard, not a goal


def measure_launch(data_dir: Path, runs: int, size: tuple[int, int]) -> dict[str, list]:
    """Seconds per run of each launch measurement (the first terminal launch fills the disk cache, not counted)."""
    config = _launch_config(data_dir)
    launch_in_terminal(config, size)
    return {
        "python": _run_seconds([sys.executable, "-c", "pass"], runs),
        "help": _run_seconds([sys.executable, "-m", "assistant", "--help"], runs),
        "import": _import_seconds("assistant.tui.app", runs),
        "terminal": [launch_in_terminal(config, size) for _ in range(runs)],
    }


def _run_seconds(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def _import_seconds(module: str, runs: int) -> list[float]:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return [
        float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout)
        for _ in range(runs)
    ]


def _launch_config(data_dir: Path) -> Path:
    """The documented config with data in a temp dir and the bundled model used where it already is."""
    from llm.providers.local import bundled_model_path

    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["llm"]["local"]["model_path"] = str(bundled_model_path())
    data_dir.mkdir(parents=True)
    path = data_dir / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def launch_in_terminal(config: Path, size: tuple[int, int]) -> tuple[float, float]:
    """`python -m assistant` in a pseudo-terminal: seconds to the first frame, and to a key typed then being drawn.

    The key is a character no escape sequence holds (λ), typed once the first frame is out; by
    then the terminal is in raw mode and does not echo, so seeing it means the app drew it.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSISTANT_")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--config", str(config)],
        stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True,
    )
    os.close(slave)
    output, typed_from = bytearray(), 0
    first_frame = usable = None
    try:
        while usable is None and time.perf_counter() < started + LAUNCH_TIMEOUT:
            if not select.select([master], [], [], 0.5)[0]:
                continue
            output += os.read(master, 1 << 16)
            if first_frame is None and b"Ask anything" in output:
                first_frame, typed_from = time.perf_counter(), len(output)
                os.write(master, TYPED.encode())
            elif first_frame is not None and TYPED.encode() in output[typed_from:]:
                usable = time.perf_counter()
        if first_frame is None or usable is None:
            raise RuntimeError(f"the app did not become usable; its output ended with {bytes(output[-400:])!r}")
        os.write(master, b"\x11")  # ctrl+q
        while child.poll() is None and time.perf_counter() < usable + LAUNCH_TIMEOUT:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 1 << 16)  # keep reading, or the app blocks writing its last frame
                except OSError:
                    break
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        os.close(master)
    return first_frame - started, usable - started
