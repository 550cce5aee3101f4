"""HTTP failures and retries: what is retried, what is reported at once, and that the key never shows.

Replayed over respx in OpenAI's documented wire format (see openai_wire.py).
"""

from __future__ import annotations

import time
import traceback

import httpx
import pytest

from llm import (
    LLMAuthError,
    LLMConnectionError,
    LLMContextLengthError,
    LLMError,
    LLMInvalidRequestError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
    TextDelta,
)
from tests.llm.openai_wire import (
    HELLO,
    KEY,
    chunk,
    closed_localhost_port,
    collect_until_error,
    error_response,
    role_chunk,
    sse_response,
    text_chunks,
    texts,
)

pytestmark = pytest.mark.usefixtures("api_keys")


# ---------------------------------------------------------------- HTTP failures and retries


async def test_429_with_retry_after_is_retried_and_then_answers(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            error_response(
                429, "Rate limit reached for requests", type="requests", code="rate_limit_exceeded",
                headers={"retry-after": "0"},
            ),
            sse_response(text_chunks("Made it.")),
        ]
    )

    result = await make("openai").complete(HELLO)

    assert result.content == "Made it."
    assert route.call_count == 2


async def test_429_waits_as_long_as_the_server_asks(make, openai_api):
    """OpenAI sends ``retry-after-ms``; the wait it asks for overrides the (tiny) configured backoff."""
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            error_response(
                429, "Rate limit reached", type="requests", code="rate_limit_exceeded",
                headers={"retry-after-ms": "300", "retry-after": "1"},
            ),
            sse_response(text_chunks("Waited.")),
        ]
    )

    started = time.monotonic()
    result = await make("openai", retry_backoff=0.01).complete(HELLO)

    assert result.content == "Waited."
    assert time.monotonic() - started >= 0.3
    assert route.call_count == 2


async def test_429_asking_for_a_long_wait_is_reported_at_once_with_retry_after(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            429, "Rate limit reached", type="tokens", code="rate_limit_exceeded", headers={"retry-after": "3600"}
        )
    )

    with pytest.raises(LLMRateLimitError) as caught:
        await make("openai").complete(HELLO)
    assert caught.value.retry_after == 3600
    assert route.call_count == 1


async def test_an_exhausted_quota_is_reported_at_once_not_retried(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            429, "You exceeded your current quota, please check your plan and billing details.",
            type="insufficient_quota", code="insufficient_quota",
        )
    )

    with pytest.raises(LLMError, match="out of quota .*check your plan and billing"):
        await make("openai", max_retries=3).complete(HELLO)
    assert route.call_count == 1


async def test_500_and_503_are_retried_until_an_answer_comes(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            error_response(500, "The server had an error", type="server_error", code=None),
            httpx.Response(503, text="upstream connect error"),
            sse_response(text_chunks("Third time lucky.")),
        ]
    )

    result = await make("openai", max_retries=2).complete(HELLO)

    assert result.content == "Third time lucky."
    assert route.call_count == 3


async def test_when_retries_run_out_the_server_error_is_reported(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=lambda request: error_response(503, "Service overloaded", type="server_error", code=None)
    )

    with pytest.raises(LLMServerError, match="503") as caught:
        await make("openai", max_retries=2).complete(HELLO)
    assert caught.value.status_code == 503
    assert route.call_count == 3, "max_retries=2 means the first attempt and two retries"


async def test_a_rejected_key_is_an_auth_error_that_never_shows_the_key(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            401,
            f"Incorrect API key provided: {KEY}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            type="invalid_request_error",
            code="invalid_api_key",
        )
    )
    provider = make("openai")

    with pytest.raises(LLMAuthError) as caught:
        await provider.complete(HELLO)

    error = caught.value
    assert route.call_count == 1, "a rejected key is not retried"
    assert "OPENAI_API_KEY" in str(error)
    assert "Incorrect API key" in str(error)
    for shown in (str(error), repr(error), error.message, repr(provider), "".join(traceback.format_exception(error))):
        assert KEY not in shown
        assert "SECRET123456" not in shown


async def test_an_unknown_model_is_an_invalid_request_naming_the_model(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            404,
            "The model `gpt-nope` does not exist or you do not have access to it.",
            type="invalid_request_error",
            code="model_not_found",
        )
    )

    with pytest.raises(LLMInvalidRequestError, match="gpt-nope") as caught:
        await make("openai", model="gpt-nope").complete(HELLO)
    assert not isinstance(caught.value, LLMContextLengthError)
    assert route.call_count == 1


async def test_400_maximum_context_length_is_a_context_length_error(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        return_value=error_response(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "130412 tokens. Please reduce the length of the messages.",
            type="invalid_request_error",
            code="context_length_exceeded",
        )
    )

    with pytest.raises(LLMContextLengthError):
        await make("openai").complete(HELLO)
    assert route.call_count == 1


async def test_a_plain_400_is_an_invalid_request_with_the_vendors_words(make, openai_api):
    openai_api.post("/chat/completions").mock(
        return_value=error_response(
            400, "Unsupported value: 'temperature' does not support 0.3 with this model.",
            type="invalid_request_error", code="unsupported_value",
        )
    )

    with pytest.raises(LLMInvalidRequestError, match="does not support 0.3") as caught:
        await make("openai").complete(HELLO)
    assert not isinstance(caught.value, LLMContextLengthError)


async def test_a_read_timeout_is_a_timeout_error_after_the_retries(make, openai_api):
    route = openai_api.post("/chat/completions").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(LLMTimeoutError, match="5 s"):
        await make("openai", timeout=5, max_retries=1).complete(HELLO)
    assert route.call_count == 2


async def test_a_refused_connection_names_the_url(make):
    port = closed_localhost_port()
    provider = make("mlx", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)

    with pytest.raises(LLMConnectionError) as caught:
        await provider.complete(HELLO)

    assert f"http://127.0.0.1:{port}/v1" in str(caught.value)
    assert "mlx_lm.server" in str(caught.value)


async def test_a_missing_api_key_names_the_variable_and_sends_nothing(make, openai_api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    route = openai_api.post("/chat/completions").mock(return_value=sse_response(text_chunks("never")))

    with pytest.raises(LLMAuthError, match="OPENAI_API_KEY"):
        await make("openai").complete(HELLO)
    assert route.call_count == 0
    assert len(openai_api.calls) == 0


async def test_a_connection_lost_after_the_first_token_is_not_retried(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=lambda request: sse_response(
            [role_chunk(), chunk({"content": "The answer is"})],
            then_raise=httpx.ReadError("connection reset by peer"),
        )
    )

    seen, error = await collect_until_error(make("openai", max_retries=3))

    assert texts(seen) == ["The answer is"]
    assert isinstance(error, LLMConnectionError)
    assert "middle of an answer" in str(error)
    assert route.call_count == 1, "retrying would repeat what the user already heard"


async def test_a_connection_lost_before_the_first_token_is_retried(make, openai_api):
    route = openai_api.post("/chat/completions").mock(
        side_effect=[
            sse_response([role_chunk()], then_raise=httpx.ReadError("connection reset by peer")),
            sse_response(text_chunks("Second try.")),
        ]
    )

    result = await make("openai").complete(HELLO)

    assert result.content == "Second try."
    assert route.call_count == 2


async def test_stopping_early_closes_the_stream(make, openai_api):
    """The user interrupts: breaking out of the loop must not hang or read the rest."""
    route = openai_api.post("/chat/completions").mock(
        return_value=sse_response(text_chunks(*[f"word{i} " for i in range(100)]))
    )
    stream = make("openai").stream(HELLO)

    first = await anext(stream)
    await stream.aclose()

    assert first == TextDelta("word0 ")
    assert route.call_count == 1
