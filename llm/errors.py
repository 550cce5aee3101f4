"""Errors raised by LLM providers.

Every failure of a provider surfaces as one of these, never as a raw httpx,
JSON or llama.cpp exception, and its message says what the user can do
about it. The tree::

    LLMError
    ├── LLMConnectionError        cannot reach the backend (retried)
    ├── LLMTimeoutError           the backend did not answer in time (retried)
    ├── LLMRateLimitError         429; carries ``retry_after`` seconds (retried unless that is over a minute)
    ├── LLMServerError            5xx from the backend, or an error mid-stream (retried)
    ├── LLMAuthError              401/403: missing or rejected API key; a 429 for an exhausted quota
    ├── LLMInvalidRequestError    400/404/422: the request itself is wrong
    │   └── LLMContextLengthError the conversation does not fit the model
    └── LLMResponseError          the backend sent data we cannot read

Only the errors marked "retried" are transient: providers retry them with
backoff, and only before the first token of an answer has been yielded.
"""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every provider error."""

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider


class LLMConnectionError(LLMError):
    """The backend could not be reached (refused, DNS, TLS, dropped)."""


class LLMTimeoutError(LLMError):
    """The backend did not answer within the configured timeout."""


class LLMRateLimitError(LLMError):
    """The backend refused the request for now (HTTP 429)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, provider: str | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.retry_after = retry_after


class LLMServerError(LLMError):
    """The backend failed on its side (HTTP 5xx, overloaded)."""

    def __init__(self, message: str, *, status_code: int | None = None, provider: str | None = None) -> None:
        super().__init__(message, provider=provider)
        self.status_code = status_code


class LLMAuthError(LLMError):
    """The API key is missing or was rejected."""


class LLMInvalidRequestError(LLMError):
    """The request cannot succeed as sent (bad model name, bad parameters)."""


class LLMContextLengthError(LLMInvalidRequestError):
    """The conversation is longer than the model's context window; prune and retry."""


class LLMResponseError(LLMError):
    """The backend answered with data that does not follow its own protocol."""


TRANSIENT_ERRORS: tuple[type[LLMError], ...] = (
    LLMConnectionError,
    LLMTimeoutError,
    LLMRateLimitError,
    LLMServerError,
)
"""Errors worth retrying: the same request may succeed a moment later."""
