"""Driving the TUI as a person would: type, press keys, wait for what appears."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.strip import Strip
from textual.widget import Widget

from assistant.config import Config, load_config
from assistant.tui.widgets import AssistantMessage, ErrorNote, Notice, StatusBar

GIVE_UP_AFTER = 180.0  # a hang guard for the shared CI machine, not a speed requirement


SHARED_MODEL_CACHE = Path(tempfile.gettempdir()) / f"rosey-assistant-tests-{os.getuid()}" / "models"
"""Where the tests' Whisper base is assembled, once for every test rather than once per data directory."""


def tui_config(tmp_path: Path, model_path: Path, **overrides: Any) -> Config:
    """The documented config with data in ``tmp_path``, the bundled model used in place, answers repeatable."""
    settings = {
        "data_dir": str(tmp_path / "data"),
        "audio.cache_dir": str(SHARED_MODEL_CACHE),
        "llm.local.model_path": str(model_path),
        "llm.local.temperature": 0.0,
        **overrides,
    }
    return load_config(Path(__file__).resolve().parents[2] / "config.yaml", settings)


def scripted_config(tmp_path: Path, model_path: Path, server: Any, **overrides: Any) -> Config:
    """``tui_config`` answering with the scripted OpenAI-compatible ``server``, for tests where the words matter."""
    return tui_config(tmp_path, model_path, **{"llm.backend": "mlx", "llm.mlx.base_url": server.base_url, **overrides})


async def wait_until(pilot: Pilot, condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + GIVE_UP_AFTER
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.05)


async def ask(pilot: Pilot, text: str) -> None:
    """Type ``text`` into the prompt and press Enter."""
    prompt = pilot.app.query_one("#prompt")
    prompt.focus()
    prompt.insert(text)
    await pilot.press("enter")


def answers(pilot: Pilot) -> list[AssistantMessage]:
    return list(pilot.app.query(AssistantMessage))


def errors(pilot: Pilot) -> list[str]:
    return [note.message for note in pilot.app.query(ErrorNote)]


def notices(pilot: Pilot) -> list[str]:
    return [note.message for note in pilot.app.query(Notice)]


def state(pilot: Pilot) -> str:
    return pilot.app.query_one(StatusBar).status.state


def status_line(pilot: Pilot) -> str:
    return str(pilot.app.query_one(StatusBar).render())


async def answer_finished(pilot: Pilot, count: int) -> AssistantMessage:
    """Wait for the ``count``-th answer to be complete and the app idle again.

    Complete means the answer shows its figures or its note, which only the
    end of a turn adds; the app alone being idle proves nothing, as it is idle
    before a turn starts too.
    """

    def finished() -> bool:
        shown = answers(pilot)
        return len(shown) >= count and shown[count - 1].finished and state(pilot) == "idle"

    await wait_until(pilot, finished, f"answer {count}")
    return answers(pilot)[count - 1]


def seen_lines(pilot: Pilot, widget: Widget) -> list[str]:
    """The lines of ``widget`` as the terminal shows them, trailing spaces trimmed."""
    return [strip.text.rstrip() for strip in seen_strips(pilot, widget)]


def seen_strips(pilot: Pilot, widget: Widget) -> list[Strip]:
    """What the screen shows over ``widget``'s region (the part on screen), as one strip per line."""
    region = widget.region.intersection(pilot.app.screen.region)
    strips = pilot.app.screen._compositor.render_strips()
    return [strip.crop(region.x, region.right) for strip in strips[region.y:region.bottom]]
