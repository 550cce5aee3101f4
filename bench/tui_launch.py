"""How soon the app is usable, in fresh processes: the interpreter, `--help`, the TUI's import, a real terminal.

Also how soon `assistant --continue` shows the last turn of a long saved conversation.

Part 2 of ``bench/tui_stream.py``, which prints the figures.
"""

from __future__ import annotations

import compileall
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

from assistant.store import ConversationStore
from llm import Message

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
    """The documented config with data in a temp dir and the bundled model used where it already is.

    The project's modules are compiled first, as a person's second launch finds
    them: with $PYTHONDONTWRITEBYTECODE set (as on this machine) each launch
    would compile every module edited since the last compile again.
    """
    from llm.providers.local import bundled_model_path

    for package in ("assistant", "llm", "audio"):
        compileall.compile_dir(ROOT / package, quiet=1)
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["llm"]["local"]["model_path"] = str(bundled_model_path())
    data_dir.mkdir(parents=True)
    path = data_dir / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class _Terminal:
    """`python -m assistant ARGS` in a pseudo-terminal of ``size``, its output read as it comes."""

    def __init__(self, config: Path, size: tuple[int, int], *args: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {name: value for name, value in os.environ.items() if not name.startswith("ASSISTANT_")}
        env.update(TERM="xterm-256color", COLORTERM="truecolor")
        self.started = time.perf_counter()
        self.child = subprocess.Popen(
            [sys.executable, "-m", "assistant", "--config", str(config), *args],
            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()

    def seconds_until(self, shown: bytes, since: int = 0) -> float:
        """Seconds from the launch until ``shown`` is in the output after its first ``since`` bytes."""
        while shown not in self.output[since:]:
            if time.perf_counter() > self.started + LAUNCH_TIMEOUT:
                raise RuntimeError(f"{shown!r} never showed; the output ended with {bytes(self.output[-400:])!r}")
            if select.select([self.master], [], [], 0.5)[0]:
                self.output += os.read(self.master, 1 << 16)
        return time.perf_counter() - self.started

    def close(self) -> None:
        """Quit the app as a person would (ctrl+q), reading its last frames, or kill it if it hangs."""
        try:
            os.write(self.master, b"\x11")
            deadline = time.perf_counter() + LAUNCH_TIMEOUT
            while self.child.poll() is None and time.perf_counter() < deadline:
                if select.select([self.master], [], [], 0.1)[0]:
                    try:
                        os.read(self.master, 1 << 16)  # keep reading, or the app blocks writing its last frame
                    except OSError:
                        break
        finally:
            if self.child.poll() is None:
                self.child.kill()
            self.child.wait()
            os.close(self.master)


def launch_in_terminal(config: Path, size: tuple[int, int]) -> tuple[float, float]:
    """`python -m assistant` in a pseudo-terminal: seconds to the first frame, and to a key typed then being drawn.

    The key is a character no escape sequence holds (λ), typed once the first frame is out; by
    then the terminal is in raw mode and does not echo, so seeing it means the app drew it.
    """
    terminal = _Terminal(config, size)
    try:
        first_frame = terminal.seconds_until(b"Ask anything")
        typed_from = len(terminal.output)
        os.write(terminal.master, TYPED.encode())
        return first_frame, terminal.seconds_until(TYPED.encode(), typed_from)
    finally:
        terminal.close()


def measure_continue(data_dir: Path, conversation: list[Message], runs: int, size: tuple[int, int]) -> list[float]:
    """Seconds from `python -m assistant --continue` to the last turn of a saved ``conversation`` on screen.

    Its last answer must be plain words (no Markdown), so that they reach the terminal in one run of text.
    """
    config = _launch_config(data_dir)
    with ConversationStore.open_default(data_dir) as store:
        saved = store.create(title="A long conversation")
        for message in conversation:
            store.add_message(saved, message)
    last_words = conversation[-1].content.encode()
    seconds = []
    for _ in range(runs + 1):  # the first run fills the disk cache, not counted
        terminal = _Terminal(config, size, "--continue")
        try:
            seconds.append(terminal.seconds_until(last_words))
        finally:
            terminal.close()
    return seconds[1:]
