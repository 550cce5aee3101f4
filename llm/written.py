"""Telling a caller the moment an HTTP backend has written its request, so other work can wait until then.

A caller with work of its own for the event loop while the model thinks (the chat
bot's shared rate-limit writes, each a JetStream round trip) would otherwise run it
before the request reaches the socket, and the model would start that much later.
The callback travels in a context variable, so it reaches the HTTP layer through
any number of generator layers, and only requests made in the caller's task (and
the tasks it starts) see it. In-process backends never call it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_callback: ContextVar[Callable[[], None] | None] = ContextVar("llm_request_written", default=None)


@contextmanager
def when_request_written(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` each time an HTTP backend has sent a whole request made in this context."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


def request_extensions() -> dict[str, Any] | None:
    """httpx request extensions that report the request written (httpcore's ``trace``), or None when nobody asked."""
    callback = _callback.get()
    if callback is None:
        return None

    async def trace(event: str, _info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            callback()

    return {"trace": trace}
