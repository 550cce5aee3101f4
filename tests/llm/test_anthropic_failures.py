"""The Anthropic provider when things go wrong, and its model list, against the Messages API's wire format.

Error events before and in the middle of an answer, HTTP errors and retries,
timeouts and a missing key, replayed by respx in small byte chunks.
"""

from __future__ import annotations

import httpx
import pytest

from llm import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    StreamEnd,
)
from llm.providers.anthropic import AnthropicProvider
from tests.llm.anthropic_wire import (
    API_KEY,
    MODEL,
    answer,
    collect_until_error,
    error_body,
    error_event,
    message_start,
    sse,
    streamed,
    text_block,
    text_of,
    user,
)

# --- errors ----------------------------------------------------------------


async def test_error_event_mid_answer_raises_after_the_text_already_shown(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        return_value=streamed(
            message_start(),
            sse("content_block_start", {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": "The answer is"}}),
            error_event("overloaded_error", "Overloaded"),
        )
    )

    events, error = await collect_until_error(anthropic, user("question"))

    assert text_of(events) == "The answer is"
    assert isinstance(error, LLMServerError)
    assert "Overloaded" in str(error)
    assert route.call_count == 1  # never retried once text has been shown


async def test_error_event_before_any_output_is_retried(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[streamed(message_start(), error_event("overloaded_error", "Overloaded")), answer("Hi")]
    )

    result = await anthropic.complete(user("hi"))

    assert result.content == "Hi"
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("kind", "message", "expected"),
    [
        ("overloaded_error", "Overloaded", LLMServerError),
        ("api_error", "Internal server error", LLMServerError),
        ("rate_limit_error", "Number of requests has exceeded your rate limit", LLMRateLimitError),
        ("invalid_request_error", "messages: text content blocks must be non-empty", LLMInvalidRequestError),
        ("invalid_request_error", "prompt is too long: 210345 tokens > 200000 maximum", LLMContextLengthError),
        ("authentication_error", "invalid x-api-key", LLMAuthError),
    ],
)
async def test_error_event_type_decides_the_error_class(anthropic_api, kind: str, message: str, expected: type) -> None:
    anthropic = AnthropicProvider({"model": MODEL, "max_retries": 0})
    anthropic_api.post("/v1/messages").mock(return_value=streamed(message_start(), error_event(kind, message)))

    with pytest.raises(LLMError) as raised:
        await anthropic.complete(user("hi"))

    assert type(raised.value) is expected
    assert message in str(raised.value)
    await anthropic.close()


async def test_stream_cut_off_before_message_stop_is_an_error_not_a_short_answer(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(message_start(), text_block(0, "The first half"))
    )

    events, error = await collect_until_error(anthropic, user("question"))

    assert text_of(events) == "The first half"
    assert isinstance(error, LLMConnectionError)
    assert not any(isinstance(e, StreamEnd) for e in events)


async def test_rate_limit_with_retry_after_is_retried(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "0"}, json=error_body("rate_limit_error", "slow down")),
            answer("Here you go."),
        ]
    )

    result = await anthropic.complete(user("hi"))

    assert result.content == "Here you go."
    assert route.call_count == 2


@pytest.mark.parametrize("status", [529, 500])
async def test_overloaded_and_server_errors_are_retried(anthropic_api, anthropic, status: int) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        side_effect=[httpx.Response(status, json=error_body("overloaded_error", "Overloaded")), answer("Back.")]
    )

    result = await anthropic.complete(user("hi"))

    assert result.content == "Back."
    assert route.call_count == 2


async def test_rejected_key_is_an_auth_error_not_retried_and_never_shown(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(
        return_value=httpx.Response(401, json=error_body("authentication_error", f"invalid x-api-key {API_KEY}"))
    )

    with pytest.raises(LLMAuthError) as raised:
        await anthropic.complete(user("hi"))

    assert route.call_count == 1
    assert "ANTHROPIC_API_KEY" in str(raised.value)
    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(anthropic)


async def test_unknown_model_is_an_invalid_request_naming_the_model(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=httpx.Response(404, json=error_body("not_found_error", "model: claude-nope"))
    )

    with pytest.raises(LLMInvalidRequestError) as raised:
        await anthropic.complete(user("hi"), model="claude-nope")

    assert "claude-nope" in str(raised.value)
    assert "llm.anthropic.model" in str(raised.value)


async def test_prompt_too_long_is_a_context_length_error(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=httpx.Response(
            400, json=error_body("invalid_request_error", "prompt is too long: 210345 tokens > 200000 maximum")
        )
    )

    with pytest.raises(LLMContextLengthError):
        await anthropic.complete(user("a very long conversation"))


async def test_malformed_json_in_a_data_line_is_a_response_error(anthropic_api, anthropic) -> None:
    anthropic_api.post("/v1/messages").mock(
        return_value=streamed(message_start(), b'event: content_block_delta\ndata: {"type": "content_bl\n\n')
    )

    with pytest.raises(LLMResponseError) as raised:
        await anthropic.complete(user("hi"))

    assert "Anthropic" in str(raised.value)


async def test_timeout_is_retried_then_reported_as_a_timeout(anthropic_api, anthropic) -> None:
    route = anthropic_api.post("/v1/messages").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMTimeoutError) as raised:
        await anthropic.complete(user("hi"))

    assert route.call_count == 3  # max_retries=2 after the first attempt
    assert "llm.anthropic.timeout" in str(raised.value)


async def test_missing_api_key_names_the_variable_and_sends_nothing(anthropic_api, anthropic, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    route = anthropic_api.post("/v1/messages").mock(return_value=answer("unreachable"))

    with pytest.raises(LLMAuthError) as raised:
        await anthropic.complete(user("hi"))

    assert "ANTHROPIC_API_KEY" in str(raised.value)
    assert route.call_count == 0


# --- models ----------------------------------------------------------------


async def test_list_models_reads_the_ids(anthropic_api, anthropic) -> None:
    route = anthropic_api.get("/v1/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5"},
                    {"type": "model", "id": "claude-haiku-4-5-20251001", "display_name": "Claude Haiku 4.5"},
                ],
                "has_more": False,
                "first_id": "claude-sonnet-4-5-20250929",
                "last_id": "claude-haiku-4-5-20251001",
            },
        )
    )

    assert await anthropic.list_models() == ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
    assert route.calls.last.request.headers["x-api-key"] == API_KEY
    assert await anthropic.is_available()
