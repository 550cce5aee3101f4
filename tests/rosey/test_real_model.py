"""The bot on a real model: `python -m llama_cpp.server` with the bundled Gemma, where the exact words do not matter."""

from __future__ import annotations

from tests.rosey.conftest import Recorder, ask, bot_config

ANSWER_WITHIN = 110
"""Seconds the bot may take to answer from the real model."""


async def test_chat_is_answered_by_a_real_model_with_its_usage_counted(
    nc, plugin_factory, llama_server, tmp_path, nats_server
) -> None:
    # A real model on a busy machine can take far longer than the scripted backend: the bot waits as long as we do.
    config = bot_config(tmp_path, llama_server.base_url, nats_server.url, max_message_chars=80,
                        request_timeout=ANSWER_WITHIN)
    config["llm"]["mlx"].update(model="gemma-3-270m", max_tokens=40, temperature=0.0, timeout=ANSWER_WITHIN)
    await plugin_factory(config)
    room = await Recorder().listen(nc, "llm.response")

    reply = await ask(nc, "rosey.command.chat", {"channel": "lobby", "user": "alice", "args": "What is the capital of France?"},
                      timeout=ANSWER_WITHIN + 10)

    assert reply["success"] is True and reply["result"].strip()
    assert reply["messages"] and all(0 < len(line) <= 80 for line in reply["messages"])
    [broadcast] = await room.wait_for("llm.response")
    assert broadcast["model"] == "gemma-3-270m" and broadcast["response"] == reply["result"]
    usage = await ask(nc, "rosey.llm.usage", {"user": "alice", "detail": True})
    assert usage["user_usage"]["requests"] == 1
    assert usage["user_usage"]["prompt_tokens"] > 0 and usage["user_usage"]["completion_tokens"] > 0
