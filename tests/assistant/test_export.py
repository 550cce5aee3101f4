"""The Markdown export: code a message holds stays inside its block, and speed reads as the app words it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from assistant.store import ConversationStore, TurnTimings
from llm import Message, MessageRole, ToolCall


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    with ConversationStore.open_default(tmp_path) as opened:
        yield opened


def test_tool_output_holding_long_fences_stays_one_code_block(store: ConversationStore) -> None:
    readme = "# Notes\n````\n```\nnested\n```\n````\n`````\nstill the file"
    call = ToolCall(id="call_1", name="read_file", arguments={"path": "README.md", "note": "````"})
    conversation_id = store.create(title="Files")
    store.add_message(conversation_id, Message(MessageRole.ASSISTANT, "", tool_calls=[call]))
    store.add_message(conversation_id, Message(MessageRole.TOOL, readme, name="read_file", tool_call_id="call_1"))

    blocks = [token for token in MarkdownIt().parse(store.export_markdown(conversation_id)) if token.type == "fence"]

    assert [block.info for block in blocks] == ["json", ""]
    assert json.loads(blocks[0].content)["arguments"] == {"path": "README.md", "note": "````"}
    assert blocks[1].content == readme + "\n"


@pytest.mark.parametrize(
    ("timings", "byline"),
    [
        (
            TurnTimings(time_to_first_token=0.42, tokens_per_second=31.5),
            "**Rosey** (ollama/llama3.2, first token 0.42 s, 31.5 tok/s)",
        ),
        (TurnTimings(time_to_first_token=1.5), "**Rosey** (ollama/llama3.2, first token 1.50 s)"),
        (TurnTimings(total_seconds=2.0), "**Rosey** (ollama/llama3.2)"),
        (None, "**Rosey** (ollama/llama3.2)"),
    ],
    ids=["both figures", "first token only", "no speed figures", "no timings"],
)
def test_an_answer_is_signed_with_its_model_and_the_speed_figures_known(
    store: ConversationStore, timings: TurnTimings | None, byline: str
) -> None:
    conversation_id = store.create(title="Speed")
    store.add_message(
        conversation_id, Message(MessageRole.ASSISTANT, "Hi."), backend="ollama", model="llama3.2", timings=timings
    )
    assert f"{byline}\n\nHi." in store.export_markdown(conversation_id)
