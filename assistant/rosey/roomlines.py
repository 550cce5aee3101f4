"""Which ``!chat`` lines of the room were taken already, so a line delivered twice is answered once.

Rosey's router passes a line's ``data`` through unchanged, so a line that
reaches the plugin both from the CyTube connector and through the router
carries the same CyTube ``time`` (milliseconds, set by CyTube) both ways; the
connector sends no correlation id. Two deliveries are therefore one line when
they have the same user and words and either the same ``time``, or no
``time`` on one of them (a platform command carries none) within
`DUPLICATE_WINDOW`. The same words said again later have another ``time`` and
are answered again.

With a store other bot processes share, the lines taken are records in it,
so a line whose two copies went to two processes is still answered once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .store import Store, StoreUnavailable

log = logging.getLogger("assistant.rosey")

DUPLICATE_WINDOW = 10.0
"""Seconds in which a delivery without CyTube's ``time`` is the same line as one with the same words."""
LINES_RECORD = "room-lines"


@dataclass(frozen=True, slots=True)
class RoomLine:
    user: str
    words: str
    said_at: int | None
    """CyTube's ``time`` of the line, when the delivery carries it."""

    @classmethod
    def of(cls, user: object, text: str, said_at: object) -> RoomLine:
        stamp = said_at if isinstance(said_at, int) and not isinstance(said_at, bool) and said_at > 0 else None
        return cls(str(user), " ".join(text.split()), stamp)

    def repeats(self, words: str, said_at: int | None) -> bool:
        """Whether a delivery with ``words`` and ``said_at``, taken within the window, is this line."""
        return words == self.words and (said_at is None or self.said_at is None or said_at == self.said_at)


class AnsweredLines:
    """The lines taken in the last `DUPLICATE_WINDOW`, per user: here, or in a store shared by every process.

    Lines are claimed one at a time, so they reach the command handlers in the order they arrived.
    """

    def __init__(self, store: Store | None, clock: Callable[[], float] = time.time) -> None:
        self._store = store if store is not None and store.shared else None
        self._clock = clock
        self._local: dict[str, list[list[Any]]] = {}
        self._claiming = asyncio.Lock()

    async def first_delivery(self, line: RoomLine) -> bool:
        """True for the first delivery of ``line`` (which is then taken), False for a repeat."""
        now = self._clock()
        if self._store is None:
            return self._claim_here(line, now)
        async with self._claiming:
            try:
                await self._store.change_record(LINES_RECORD, line.user, lambda record: _claimed(record, line, now))
            except _AlreadyTaken:
                return False
            except StoreUnavailable as exc:
                log.warning("could not check the shared store for a line answered elsewhere (%s)", exc)
                return self._claim_here(line, now)
        return True

    def _claim_here(self, line: RoomLine, now: float) -> bool:
        try:
            self._local[line.user] = _claimed({"lines": self._local.get(line.user, [])}, line, now)["lines"]
        except _AlreadyTaken:
            return False
        if len(self._local) > 1000:
            self._forget_quiet_users(now)
        return True

    def _forget_quiet_users(self, now: float) -> None:
        quiet = [user for user, lines in self._local.items() if all(at <= now - DUPLICATE_WINDOW for *_, at in lines)]
        for user in quiet:
            del self._local[user]


class _AlreadyTaken(Exception):
    pass


def _claimed(record: dict[str, Any], line: RoomLine, now: float) -> dict[str, Any]:
    """The user's record with ``line`` taken; raises `_AlreadyTaken` when a recent delivery was this line."""
    recent = [entry for entry in record.get("lines", []) if entry[2] > now - DUPLICATE_WINDOW]
    if any(line.repeats(words, said_at) for words, said_at, _ in recent):
        raise _AlreadyTaken
    return {"lines": [*recent, [line.words, line.said_at, now]]}
