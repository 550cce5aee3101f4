"""Retrying a stream before its first event, and only then.

Once a token has reached the user, a retry would repeat it: so a provider's
stream is retried while it is being opened, up to its first event, and is
left alone after that.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING

from .errors import TRANSIENT_ERRORS, LLMRateLimitError
from .types import StreamEvent

if TYPE_CHECKING:
    from tenacity import RetryCallState

MAX_RETRY_AFTER = 60.0
"""A 429 asking us to wait longer than this is reported at once: nobody waits a minute for a voice reply."""


def _is_worth_retrying(exc: BaseException) -> bool:
    if isinstance(exc, LLMRateLimitError) and exc.retry_after is not None:
        return exc.retry_after <= MAX_RETRY_AFTER
    return isinstance(exc, TRANSIENT_ERRORS)


def _backoff(first_delay: float) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, LLMRateLimitError) and exc.retry_after is not None:
            return exc.retry_after
        return first_delay * 2 ** (state.attempt_number - 1)

    return wait


async def stream_with_retries(
    open_stream: Callable[[], AsyncGenerator[StreamEvent, None]],
    *,
    max_retries: int,
    first_delay: float,
) -> AsyncIterator[StreamEvent]:
    """Yield the events of ``open_stream()``, retrying transient failures before the first event."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt  # not needed to start the app

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=_backoff(first_delay),
        retry=retry_if_exception(_is_worth_retrying),
        reraise=True,
    )
    empty = object()
    async for attempt in retrying:
        with attempt:
            events = open_stream()
            try:
                # A default, not StopAsyncIteration: raised inside the attempt, tenacity would
                # re-raise it from its own __anext__, which silently ends this loop.
                first = await anext(events, empty)
            except BaseException:
                await events.aclose()
                raise
    if first is empty:
        return
    try:
        yield first
        async for event in events:
            yield event
    finally:
        await events.aclose()
