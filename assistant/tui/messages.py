"""What the app's helpers ask of the app, as Textual messages.

The helpers (the slash commands, the view of an answer being written, the
microphone switch) never hold the app: they post these on the chat log and
the messages bubble up to the app, which alone owns the screens and the
workers. A status goes to the app straight (`ChatLog.post_status`): bubbling
through the log and the screen queued it behind a frame or two, so the frame
showing an answer finished came one frame late. Statuses are numbered as
they are made and the app drops one older than the last it showed, so the
status bar never ends on an older state than the last one reported.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from textual.message import Message

from ..events import TurnDone

_status_numbers = itertools.count()


class StatusChanged(Message):
    """What the assistant is doing now, or the figures of the answer just finished; None leaves a part as it is.

    With neither, the status bar is only redrawn (after a persona or a conversation changed).
    """

    def __init__(self, state: str | None = None, last: TurnDone | None = None) -> None:
        super().__init__()
        self.state = state
        self.last = last
        self.number = next(_status_numbers)


class ChoiceWanted(Message):
    """A list for the person to choose from (a model, a saved conversation); ``choice`` resolves to an id or None."""

    def __init__(self, title: str, choices: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.title = title
        self.choices = list(choices)
        self.choice: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()


class BackendSwitched(Message):
    """Another backend or model now answers: the app loads it before the next question, as at start-up."""


class TypedOnEntry(Message):
    """A printable key pressed on a focused message: it belongs in the prompt, where the app puts it."""

    def __init__(self, character: str) -> None:
        super().__init__()
        self.character = character
