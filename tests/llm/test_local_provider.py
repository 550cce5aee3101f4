"""The embedded backend against the real bundled Gemma 3 270M, in-process.

What the tiny model says differs between builds of llama.cpp, so these tests
check that it answers (streamed, counted, stopped at the next speaker), never
what it answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm import (
    LLMContextLengthError,
    LLMInvalidRequestError,
    Message,
    MessageRole,
    ProviderFactory,
    StreamEnd,
    TextDelta,
    ToolDefinition,
)
from llm.providers.local import LocalProvider, transcript_prompt

SYSTEM = Message(MessageRole.SYSTEM, "You are Rosey, a helpful voice assistant. Answer in one short sentence.")


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    return LocalProvider({"temperature": 0.0})


def ask(question: str) -> list[Message]:
    return [SYSTEM, Message(MessageRole.USER, question)]


async def test_answers_token_by_token_with_the_default_config(provider: LocalProvider) -> None:
    events = [event async for event in provider.stream(ask("What is 12 times 7?"))]

    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1, "the answer should arrive token by token"
    assert isinstance(events[-1], StreamEnd)
    assert sum(isinstance(e, StreamEnd) for e in events) == 1
    result = events[-1].result
    assert result.content.strip(), "the model answered nothing"
    assert result.content == "".join(deltas).strip()
    assert "User:" not in result.content and "Rosey:" not in result.content
    assert result.prompt_tokens > 10 and result.completion_tokens >= len(deltas)
    assert result.tokens_used == result.prompt_tokens + result.completion_tokens


async def test_the_same_question_at_temperature_zero_gets_the_same_answer(provider: LocalProvider) -> None:
    first = await provider.complete(ask("What is 12 times 7?"), temperature=0.0)
    second = await provider.complete(ask("What is 12 times 7?"), temperature=0.0)

    assert first.content
    assert second.content == first.content


async def test_the_answer_stops_before_the_next_speaker(provider: LocalProvider) -> None:
    conversation = [
        SYSTEM,
        Message(MessageRole.USER, "Hi, my name is Ada."),
        Message(MessageRole.ASSISTANT, "Hello Ada! How can I help?"),
        Message(MessageRole.USER, "What is the capital of France?"),
    ]
    result = await provider.complete(conversation, max_tokens=120)

    assert result.content
    assert "User:" not in result.content and "Rosey:" not in result.content
    assert result.finish_reason == "stop"


def test_the_prompt_is_a_plain_transcript_ending_with_the_assistant() -> None:
    prompt = transcript_prompt(
        [SYSTEM, Message(MessageRole.USER, "Hello"), Message(MessageRole.ASSISTANT, "Hi!"),
         Message(MessageRole.USER, "Bye")],
        "User",
        "Rosey",
    )
    assert prompt.endswith("User: Hello\nRosey: Hi!\nUser: Bye\nRosey:")
    assert "<start_of_turn>" not in prompt


def test_the_tiny_model_sees_only_the_question_unless_asked_for_history() -> None:
    conversation = [SYSTEM, Message(MessageRole.USER, "What is 12 times 7?"), Message(MessageRole.ASSISTANT, "84"),
                    Message(MessageRole.USER, "And the capital of Italy?")]

    assert "84" not in transcript_prompt(conversation, "User", "Rosey", history_turns=0)
    assert transcript_prompt(conversation, "User", "Rosey", history_turns=1).endswith(
        "User: What is 12 times 7?\nRosey: 84\nUser: And the capital of Italy?\nRosey:")


async def test_a_follow_up_question_is_answered_as_if_asked_alone(provider: LocalProvider) -> None:
    """By default the tiny model is shown no earlier exchange, so an earlier answer cannot leak into this one."""
    conversation = [SYSTEM, Message(MessageRole.USER, "What is 12 times 7?"),
                    Message(MessageRole.ASSISTANT, "12 times 7 = 12 * 7 = 84"),
                    Message(MessageRole.USER, "What is the capital of Italy?")]
    follow_up = await provider.complete(conversation)
    alone = await provider.complete(ask("What is the capital of Italy?"))

    assert follow_up.content
    assert follow_up.content == alone.content


async def test_closing_the_stream_stops_generation(provider: LocalProvider) -> None:
    stream = provider.stream(ask("Tell me a very long story about a dragon."), max_tokens=200)
    received = []
    async for event in stream:
        if isinstance(event, TextDelta):
            received.append(event.text)
        if len(received) == 3:
            break
    await stream.aclose()
    await provider.load()  # runs on the model's worker thread, so it waits for generation to end

    evaluated = provider._llama.n_tokens  # tokens the model actually processed
    prompt_tokens = len(provider._llama.tokenize(
        transcript_prompt(ask("Tell me a very long story about a dragon."), "User", "Rosey").encode()))
    assert evaluated < prompt_tokens + 20, "generation went on after the stream was closed"

    follow_up = await provider.complete(ask("What is 2 plus 2?"))
    assert follow_up.content, "the provider keeps serving after a cancelled answer"


async def test_a_conversation_longer_than_the_context_is_a_context_length_error() -> None:
    small = LocalProvider({"n_ctx": 64})
    try:
        with pytest.raises(LLMContextLengthError, match="llm.local.n_ctx"):
            await small.complete(ask("tell me about " + "dragons and castles " * 40))
    finally:
        await small.close()


async def test_a_missing_model_file_names_the_path_and_the_key(tmp_path: Path) -> None:
    missing = LocalProvider({"model_path": str(tmp_path / "nope.gguf")})
    with pytest.raises(LLMInvalidRequestError, match=r"nope\.gguf does not exist: fix llm\.local\.model_path"):
        await missing.complete(ask("hello"))
    assert await missing.is_available() is False


async def test_tools_are_refused_because_a_base_model_cannot_call_them(provider: LocalProvider) -> None:
    assert provider.capabilities.tools is False
    with pytest.raises(LLMInvalidRequestError, match="does not support tools"):
        await provider.complete(ask("hi"), tools=[ToolDefinition("clock", "the time")])


async def test_embeddings_give_one_vector_per_text(provider: LocalProvider) -> None:
    vectors = await provider.embed(["a cat sat on the mat", "the stock market fell"])
    assert len(vectors) == 2
    assert len(vectors[0]) == len(vectors[1]) > 100


def test_the_factory_builds_the_embedded_default_from_an_empty_config() -> None:
    provider = ProviderFactory.create_from_config({})
    assert isinstance(provider, LocalProvider)
    assert provider.model == "gemma-3-270m"
