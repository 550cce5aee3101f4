"""What every HTTP backend shares: the client, the API key, and turning failures into LLMErrors.

Providers take an optional ``httpx.AsyncClient`` so tests and benchmarks can
inject a transport and run the real provider code with no network.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
from httpx_sse import SSEError

from .base import LLMProvider
from .errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
)
from .settings import BackendSettings
from .written import request_extensions

_CONTEXT_OVERFLOW = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens|exceeds? .*context",
    re.IGNORECASE,
)
_KEY_LIKE = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-*.]{6,}")


def is_context_overflow(detail: str) -> bool:
    """Whether a backend's error text says the conversation does not fit the model."""
    return bool(_CONTEXT_OVERFLOW.search(detail))


def redact(text: str, secret: str | None) -> str:
    """Remove an API key, and anything shaped like one, from text bound for a user or a log."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def parse_json(text: str | bytes, *, source: str, provider: str | None = None) -> Any:
    """JSON from the backend, or an LLMResponseError saying who sent what."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        shown = text[:120] if isinstance(text, str) else text[:120].decode("utf-8", "replace")
        raise LLMResponseError(f"{source} sent data that is not valid JSON: {shown!r}", provider=provider) from None


def parse_tool_arguments(raw: str | dict[str, Any], *, tool: str, source: str) -> dict[str, Any]:
    """A tool call's arguments as an object, from the JSON text a model wrote (or an object already)."""
    if isinstance(raw, str):
        text = raw.strip() or "{}"
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            raise LLMResponseError(
                f"{source} sent arguments for tool '{tool}' that are not valid JSON: {text[:120]!r}"
            ) from None
    if not isinstance(raw, dict):
        raise LLMResponseError(f"{source} sent arguments for tool '{tool}' that are not an object")
    return raw


class HTTPProvider(LLMProvider):
    """A provider that talks to its backend over HTTP."""

    requires_api_key: ClassVar[bool] = False
    connect_hint: ClassVar[str] = "is the server running?"

    def __init__(
        self,
        settings: BackendSettings | Mapping[str, Any] | None = None,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(settings)
        self._client = client
        self._owns_client = client is None

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            timeout = self.settings.timeout
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
            self._owns_client = True
        return self._client

    async def prepare(self) -> None:
        """Build the HTTP client in a worker thread: its TLS context (certifi's CA bundle) takes 40-60 ms,
        which the first request would otherwise wait for, with the event loop blocked."""
        await asyncio.to_thread(lambda: self.client)

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    def api_key(self) -> str | None:
        """The key from the environment variable named by ``api_key_env``; never stored."""
        env = self.settings.api_key_env
        key = os.environ.get(env, "").strip() if env else ""
        if not key and self.requires_api_key:
            if not env:
                raise LLMAuthError(
                    f"no API key for {self.display_name}: set llm.{self.name}.api_key_env "
                    "to the name of the environment variable holding it",
                    provider=self.name,
                )
            raise LLMAuthError(
                f"{env} is not set: export {env}=<your {self.display_name} API key> and try again",
                provider=self.name,
            )
        return key or None

    def headers(self) -> dict[str, str]:
        """Headers for every request; subclasses add authentication."""
        return {}

    @asynccontextmanager
    async def open(
        self, method: str, path: str, *, json_body: Any = None, model: str | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streaming response with a success status; any failure is an LLMError."""
        headers = self.headers()
        secret = self.api_key()
        request = self.client.build_request(method, self.base_url + path, json=json_body, headers=headers,
                                            extensions=request_extensions())
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self.transport_error(exc, mid_answer=False) from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise self.status_error(response, model or self.model, secret)
            yield response
        except SSEError:
            raise LLMResponseError(
                f"{self.display_name} at {self.base_url} did not answer with an event stream: "
                "is base_url pointing at the right server?",
                provider=self.name,
            ) from None
        except httpx.TransportError as exc:
            raise self.transport_error(exc, mid_answer=True) from None
        finally:
            await response.aclose()

    def transport_error(self, exc: httpx.TransportError, *, mid_answer: bool) -> LLMError:
        """A timeout or a failed connection as the error a user can act on.

        ``mid_answer`` tells a server that stopped part-way from one that never answered.
        """
        where = f"{self.display_name} at {self.base_url}"
        timeout = self.settings.timeout
        if isinstance(exc, httpx.TimeoutException):
            if mid_answer:
                message = f"{self.display_name} stopped sending for {timeout:g} s in the middle of an answer"
            else:
                message = (
                    f"{where} did not answer within {timeout:g} s; raise llm.{self.name}.timeout or check the server"
                )
            return LLMTimeoutError(message, provider=self.name)
        if mid_answer:
            message = f"lost the connection to {where} in the middle of an answer ({type(exc).__name__})"
        else:
            message = f"cannot reach {where}: {self.connect_hint} ({type(exc).__name__})"
        return LLMConnectionError(message, provider=self.name)

    async def request_json(
        self, method: str, path: str, *, json_body: Any = None, model: str | None = None
    ) -> Any:
        async with self.open(method, path, json_body=json_body, model=model) as response:
            body = await response.aread()
        return parse_json(body, source=self.display_name, provider=self.name)

    def vendor_message(self, response: httpx.Response) -> str:
        """The backend's own words about a failed request, from its error body."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return response.text.strip()[:300]
        if isinstance(body, dict):
            error = body.get("error", body.get("detail", body.get("message")))
            if isinstance(error, dict):
                error = error.get("message") or error.get("type")
            if error:
                return str(error)[:300]
        return str(body)[:300]

    def not_found_message(self, model: str, detail: str) -> str:
        return f"{self.display_name} has no model '{model}' ({detail}): check llm.{self.name}.model"

    def status_error(self, response: httpx.Response, model: str, secret: str | None) -> LLMError:
        status = response.status_code
        detail = redact(self.vendor_message(response), secret)
        where = f"{self.display_name} answered {status}"
        if status in (401, 403):
            env = self.settings.api_key_env or f"llm.{self.name}.api_key_env"
            return LLMAuthError(f"{where}: the API key was rejected ({detail}); check {env}", provider=self.name)
        if status == 404:
            return LLMInvalidRequestError(self.not_found_message(model, detail), provider=self.name)
        if status == 429 and "quota" in detail.lower():
            return LLMAuthError(
                f"{where}: the account is out of quota ({detail}); check your plan and billing", provider=self.name
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers)
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return LLMRateLimitError(
                f"{where}: rate limited ({detail}){wait}", retry_after=retry_after, provider=self.name
            )
        if status >= 500:
            return LLMServerError(f"{where}: server error ({detail})", status_code=status, provider=self.name)
        if is_context_overflow(detail):
            return LLMContextLengthError(
                f"{where}: the conversation is too long for the model ({detail}); reset it or shorten it",
                provider=self.name,
            )
        return LLMInvalidRequestError(f"{where}: {detail}", provider=self.name)
