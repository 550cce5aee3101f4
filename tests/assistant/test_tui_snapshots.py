"""What a person sees: SVG snapshots of the main screen and the help screen.

The main screen shows a restored conversation (so no timing figures, which
change from run to run) with Markdown, a code block and a tool call.
`pytest --snapshot-update` accepts a deliberate change; look at the SVGs first.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from assistant.store import ConversationStore
from assistant.tui.app import AssistantApp
from llm import Message, MessageRole, ToolCall
from tests.assistant.tui_helpers import state, tui_config, wait_until

SIZE = (100, 34)

ANSWER = """Here is a loop that counts to three:

```python
for n in range(1, 4):
    print(n)
```

- It starts at **1**
- It stops *before* 4"""


def saved_conversation(data_dir: Path) -> None:
    store = ConversationStore.open_default(data_dir)
    conversation = store.create(persona="default")
    call = ToolCall("call_1", "calculator", {"expression": "12 * 7"})
    for message in (
        Message(MessageRole.USER, "What is 12 times 7?"),
        Message(MessageRole.ASSISTANT, "", tool_calls=[call]),
        Message(MessageRole.TOOL, "84", name="calculator", tool_call_id="call_1"),
        Message(MessageRole.ASSISTANT, "12 times 7 is **84**."),
        Message(MessageRole.USER, "Show me a loop in Python."),
        Message(MessageRole.ASSISTANT, ANSWER),
    ):
        store.add_message(conversation, message, backend="local", model="gemma-3-270m")
    store.close()


async def until_idle(pilot: Pilot) -> None:
    await wait_until(pilot, lambda: state(pilot) == "idle", "the app to be ready")
    pilot.app.set_focus(None)  # the prompt's blinking cursor would make pictures differ
    await pilot.pause()


def test_main_screen(snap_compare, tmp_path: Path, model_path: Path) -> None:
    config = tui_config(tmp_path, model_path)
    saved_conversation(config.data_dir)
    assert snap_compare(AssistantApp(config, resume=True), terminal_size=SIZE, run_before=until_idle)


def test_help_screen(snap_compare, tmp_path: Path, model_path: Path) -> None:
    async def open_help(pilot: Pilot) -> None:
        await until_idle(pilot)
        pilot.app.action_help()
        await pilot.pause()

    app = AssistantApp(tui_config(tmp_path, model_path))
    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)
