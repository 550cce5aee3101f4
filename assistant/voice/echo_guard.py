"""The last line against the assistant's own voice: heard words that repeat what it just said."""

from __future__ import annotations

import re
import time
from collections import deque


class EchoGuard:
    """Remembers what the assistant said lately, to recognise it coming back through the microphone."""

    def __init__(self, overlap: float, memory_seconds: float = 30.0) -> None:
        self.overlap = overlap
        self.memory_seconds = memory_seconds
        self._said: deque[tuple[float, set[str]]] = deque()

    def said(self, text: str) -> None:
        self._said.append((time.monotonic(), _words(text)))

    def is_echo(self, text: str) -> bool:
        horizon = time.monotonic() - self.memory_seconds
        while self._said and self._said[0][0] < horizon:
            self._said.popleft()
        heard = _words(text)
        if not heard or not self._said:
            return False
        recent = set().union(*(words for _, words in self._said))
        return len(heard & recent) / len(heard) >= self.overlap


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))
