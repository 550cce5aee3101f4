"""What every handler shares: the subjects, publishing JSON, in-flight requests, failures, the request log.

Two rules live here so no handler can forget them: nothing published or
logged ever contains a secret (the API key, NATS credentials), and every
failure, whatever raised it, becomes one `Failure` with a message for the
sender and an outcome for the log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from nats.errors import Error as NatsError

from llm import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)

from .payloads import BadRequest
from .ratelimit import RateLimited

log = logging.getLogger("assistant.rosey")

QUEUE_GROUP = "rosey-llm"
SERVICE_NAME = "rosey-llm"

COMMAND_CHAT = "rosey.command.chat"
COMMAND_CHAT_SUB = "rosey.command.chat.*"
COMMAND_LLM_RESET = "rosey.command.llm.reset"
LEGACY_REQUEST = "llm.request"
LEGACY_RESPONSE = "llm.response"
LEGACY_ERROR = "llm.error"

EVENT_RESPONSE = "rosey.event.llm.response"
EVENT_ERROR = "rosey.event.llm.error"
EVENT_MEMORY = "rosey.event.llm.memory"
EVENT_SUMMARIZED = "rosey.event.llm.summarized"
EVENT_THRESHOLDS = ("rosey.event.llm.usage_threshold", "rosey.event.llm.usage.threshold")
"""The real plugin's subject, then the older protocol's: subscribers of either hear every threshold."""

REDACTED = "***"


class RequestFailed(Exception):
    """A request that was understood but could not be served; the message is for the sender."""

    def __init__(self, message: str, *, rate_limited: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rate_limited = rate_limited
        self.retry_after = retry_after


def model_failure(error: LLMError) -> RequestFailed:
    """A backend error as the room should hear it."""
    if isinstance(error, LLMRateLimitError):
        wait = error.retry_after if error.retry_after is not None else 30
        return RequestFailed(f"the model is busy: {error.message}", rate_limited=True, retry_after=max(1, round(wait)))
    if isinstance(error, (LLMConnectionError, LLMTimeoutError, LLMServerError, LLMAuthError)):
        return RequestFailed(f"the model is unavailable right now: {error.message}")
    if isinstance(error, LLMContextLengthError):
        return RequestFailed(f"that is too long for the model: {error.message}")
    return RequestFailed(f"the model could not answer: {error.message}")


@dataclass(frozen=True, slots=True)
class Failure:
    message: str
    outcome: str
    rate_limited: bool = False
    retry_after: int | None = None

    @classmethod
    def of(cls, exc: BaseException, timeout: float) -> Failure:
        if isinstance(exc, BadRequest):
            return cls(str(exc), "bad_request")
        if isinstance(exc, RateLimited):
            return cls(str(exc), "rate_limited", True, exc.retry_after)
        if isinstance(exc, RequestFailed):
            retry = round(exc.retry_after) if exc.retry_after is not None else None
            return cls(exc.message, "backend_busy" if exc.rate_limited else "failed", exc.rate_limited, retry)
        if isinstance(exc, LLMError):
            return cls.of(model_failure(exc), timeout)
        if isinstance(exc, TimeoutError):
            return cls(f"the model did not answer within {timeout:g} s (rosey.request_timeout); try again later",
                       "timeout")
        if isinstance(exc, asyncio.CancelledError):
            return cls("the bot is shutting down; ask again in a moment", "cancelled")
        return cls("internal error in the LLM plugin; the operator can find it in the bot's log", "error")

    @property
    def error_type(self) -> str:
        """The real plugin's ``error_type``: validation, rate_limit or provider_error."""
        if self.outcome == "bad_request":
            return "validation"
        return "rate_limit" if self.rate_limited else "provider_error"

    def fields(self) -> dict[str, Any]:
        """``error`` plus, when rate limited, ``rate_limited`` and ``retry_after``."""
        data: dict[str, Any] = {"error": self.message}
        if self.rate_limited:
            data["rate_limited"] = True
            data["retry_after"] = self.retry_after
        return data


class Bus:
    """Publishes JSON on NATS with every secret removed; a failed publish is logged, never raised."""

    def __init__(self, nats_client: Any, secrets: Iterable[str] = ()) -> None:
        self.nc = nats_client
        self._secrets = [secret for secret in secrets if secret and len(secret) >= 4]

    def encode(self, payload: dict[str, Any]) -> bytes:
        text = json.dumps(payload, ensure_ascii=False)
        return self.redact(text).encode("utf-8", "replace")

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    async def publish(self, subject: str, payload: dict[str, Any]) -> None:
        try:
            await self.nc.publish(subject, self.encode(payload))
        except (NatsError, OSError) as exc:
            log.warning("could not publish on %s: %s", subject, exc or type(exc).__name__)

    async def let_out(self) -> None:
        """Let what was just published (an answer someone waits for) reach the socket now.

        nats-py writes in a task of its own, which runs only when the publisher yields:
        without this, an answer waits while the events and log line after it are built
        (0.1-0.2 ms of a request's 2 ms over a direct model call, bench/bot_throughput.py).
        """
        await asyncio.sleep(0)


class SecretFilter(logging.Filter):
    """Takes secrets out of log records, whatever their message or arguments hold."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret and len(secret) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(secret in message for secret in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, REDACTED)
                record.msg, record.args = message, None
        return True


class InFlight:
    """The tasks serving requests, so shutdown can wait for every one to send its reply."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._finished)
        return task

    async def wait(self, timeout: float) -> bool:
        """Wait until nothing is in flight; False when ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                while self._tasks:
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a request task failed", exc_info=exc)


def log_request(
    bus: Bus,
    subject: str,
    channel: str,
    user: str,
    started: float,
    outcome: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
) -> None:
    """The one log line of a request. Never its text: a room's words are not the log's business."""
    latency_ms = (time.perf_counter() - started) * 1000
    line = (
        f"request subject={subject} channel={json.dumps(channel, ensure_ascii=False)} "
        f"user={json.dumps(user, ensure_ascii=False)} outcome={outcome} latency_ms={latency_ms:.1f} "
        f"prompt_tokens={prompt_tokens} completion_tokens={completion_tokens}"
    )
    log.info(bus.redact(line))
