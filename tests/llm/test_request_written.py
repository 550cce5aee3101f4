"""`when_request_written`: a caller learns that its request has reached the backend's socket.

Against a real loopback server (tests/scripted_openai.py): the signal comes from
httpcore writing the request, which a mocked transport never does.
"""

from __future__ import annotations

from llm import Message, MessageRole, ProviderFactory, TextDelta, when_request_written

QUESTION = [Message(MessageRole.USER, "hi")]


def provider_for(server):  # type: ignore[no-untyped-def]
    return ProviderFactory.create("mlx", {"llm": {"mlx": {"base_url": server.base_url, "model": "scripted-model",
                                                          "max_retries": 0}}})


async def test_the_caller_is_told_once_the_request_is_written_before_any_answer_arrives(scripted_openai) -> None:
    scripted_openai.reply("Hello there, friend", pieces=3, piece_delay=0.05)
    provider = provider_for(scripted_openai)
    seen: list[str] = []
    try:
        with when_request_written(lambda: seen.append("written")):
            async for event in provider.stream(QUESTION):
                if isinstance(event, TextDelta):
                    seen.append(event.text)
    finally:
        await provider.close()
    assert seen[0] == "written"
    assert seen.count("written") == 1
    assert "".join(seen[1:]) == "Hello there, friend"


async def test_requests_made_outside_the_context_tell_nobody(scripted_openai) -> None:
    scripted_openai.reply("first")
    scripted_openai.reply("second")
    provider = provider_for(scripted_openai)
    seen: list[str] = []
    try:
        with when_request_written(lambda: seen.append("written")):
            await provider.complete(QUESTION)
        answer = await provider.complete(QUESTION)
    finally:
        await provider.close()
    assert seen == ["written"]
    assert answer.content == "second"
