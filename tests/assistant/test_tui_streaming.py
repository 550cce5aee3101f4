"""An answer streamed token by token looks exactly as the whole answer drawn at once, and never holds up the keys."""

from __future__ import annotations

import gc
from pathlib import Path

from markdown_it import MarkdownIt
from rich.console import Console
from textual.widgets import Static

from assistant.tui.app import AssistantApp
from assistant.tui.markdown_feed import AnswerMarkdown, StreamingMarkdown
from assistant.tui.messages import StatusChanged
from assistant.tui.widgets import AssistantMessage
from tests.assistant.tui_helpers import (
    answer_finished,
    answers,
    ask,
    scripted_config,
    seen_lines,
    seen_strips,
    state,
    wait_until,
)

SECTION = """## Step {n}: install the server

Install it and check the port:
first line
second line

1. Open the config
   - set `backend`
     - and the `model`
   - save it
2. Restart

| Setting | Default |
|---|---|
| `port` | 80{n} |
| `timeout` | {n} |

```python
def connect_{n}(url: str) -> None:
    print(url)
```

---
> A quote after a rule,
> on two lines
***
# Done with step {n}
"""
TRICKY = "".join(SECTION.format(n=n) for n in range(4)) + "That is all."


def test_an_answer_drawn_in_pieces_cut_at_any_block_boundary_looks_as_the_whole() -> None:
    console = Console(width=100, color_system="truecolor", force_terminal=True)
    source = TRICKY.splitlines(keepends=True)
    starts = [token.map[0] for token in MarkdownIt("gfm-like").parse(TRICKY) if token.level == 0 and token.map]
    whole = console.render_lines(AnswerMarkdown(TRICKY), pad=False)
    for first, second, third in zip(starts, starts[1:], starts[2:]):
        before, block, rest = "".join(source[:second]), "".join(source[first:second]), "".join(source[second:])
        pieces = console.render_lines(AnswerMarkdown(before), pad=False)
        pieces += console.render_lines(AnswerMarkdown(rest, after=block), pad=False)
        assert pieces == whole, f"cut before line {second} ({source[second]!r}), after {block!r}"


def cells(strips: list) -> list[list[tuple[str, object]]]:
    """Every cell as a character and its style: what a person sees, however the segments are cut."""
    return [[(char, segment.style) for segment in strip for char in segment.text] for strip in strips]


async def test_a_streamed_answer_looks_as_the_whole_answer_drawn_at_once(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply(TRICKY, pieces=len(TRICKY) // 3, piece_delay=0.002)  # fences and table rows cut mid-token
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 400)) as pilot:
        await ask(pilot, "How do I set it up?")
        answer = await answer_finished(pilot, 1)
        sealed = answer.query_one(StreamingMarkdown).sealed
        assert len(sealed) > 1, "finished blocks were sealed while the answer streamed"

        reference = Static(AnswerMarkdown(TRICKY))
        await answer.mount(reference, before=answer.query_one(StreamingMarkdown))
        await pilot.pause()

        streamed = seen_strips(pilot, answer.query_one(StreamingMarkdown))
        whole = seen_strips(pilot, reference)
        assert [strip.text for strip in streamed] == [strip.text for strip in whole]
        assert cells(streamed) == cells(whole)
        assert "first line" in seen_lines(pilot, reference), "single line breaks are kept"


async def test_a_long_answer_scrolled_back_shows_its_beginning(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply(TRICKY * 3, pieces=len(TRICKY))
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, "How do I set it up?")
        answer = await answer_finished(pilot, 1)
        log = app.query_one("#log")
        assert "That is all." in "\n".join(seen_lines(pilot, log)), "the log follows the answer to its end"

        log.scroll_home(animate=False)
        await pilot.pause()
        await pilot.pause()

        shown = seen_lines(pilot, log)
        assert any("Step 0: install the server" in line for line in shown)
        assert any("Install it and check the port:" in line for line in shown)
        assert answer.text == TRICKY * 3


async def test_no_garbage_collection_stalls_a_streaming_answer_and_its_garbage_is_collected_once_it_is_shown(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    """A full collection stalls the screen and the keys for 10-250 ms; while an answer streams none may run."""
    scripted_openai.reply(TRICKY, pieces=300, piece_delay=0.005)
    collections: list[int] = []

    def collected(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 40)) as pilot:
        await ask(pilot, "How do I set it up?")
        await wait_until(pilot, lambda: answers(pilot) and len(answers(pilot)[0].text) > 100, "the answer to stream")
        gc.callbacks.append(collected)
        try:
            await answer_finished(pilot, 1)
            while_streaming = list(collections)
            await wait_until(pilot, gc.isenabled, "collections to run again")
            await wait_until(pilot, lambda: len(collections) > len(while_streaming), "the answer's garbage collected")
        finally:
            gc.callbacks.remove(collected)

    assert while_streaming == [], f"collections of generations {while_streaming} ran while the answer streamed"


async def test_escape_stops_a_fast_stream_and_the_saved_conversation_marks_it_once(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    long_answer = "word " * 20_000
    scripted_openai.reply(long_answer, pieces=20_000, piece_delay=0.001)  # 20 s at least: Escape comes long before
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    target = tmp_path / "talk.md"
    async with app.run_test(size=(100, 40)) as pilot:
        await ask(pilot, "Say word many times.")
        await wait_until(pilot, lambda: answers(pilot) and len(answers(pilot)[0].text) > 200, "the stream to start")

        await pilot.press("escape")

        answer = await answer_finished(pilot, 1)
        assert "[interrupted]" in str(answer.query("Label").last().render())
        assert long_answer.startswith(answer.text) and len(answer.text) < len(long_answer)
        await ask(pilot, f"/save {target}")
        await wait_until(pilot, target.exists, "the export")

    assert target.read_text().count("interrupted") == 1


async def test_typing_on_a_focused_message_types_into_the_prompt(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply("Hello there.")
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 40)) as pilot:
        await ask(pilot, "Hi")
        await answer_finished(pilot, 1)
        for _ in range(20):
            if isinstance(app.focused, AssistantMessage):
                break
            await pilot.press("tab")
        assert isinstance(app.focused, AssistantMessage), "Tab reaches the answer"

        await pilot.press("c")
        assert app.clipboard == "Hello there.", "c on a focused message copies it"
        await pilot.press("o", "k")

        prompt = app.query_one("#prompt")
        assert prompt.has_focus and prompt.text == "ok"


async def test_single_line_breaks_in_an_answer_are_shown(tmp_path: Path, model_path: Path, scripted_openai) -> None:
    scripted_openai.reply("1\n2\n3")
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 40)) as pilot:
        await ask(pilot, "Count to three, one per line.")
        answer = await answer_finished(pilot, 1)

        shown = [line.strip() for line in seen_lines(pilot, answer.query_one(StreamingMarkdown))]
        assert shown[:3] == ["1", "2", "3"]


async def test_the_status_says_writing_while_text_streams_after_a_tool(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply(tool_calls=[("calculator", {"expression": "12 * 7"})])
    scripted_openai.reply("12 times 7 is 84. " * 200, pieces=400, piece_delay=0.01)
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.session.orchestrator.tools is not None, "the tools to start")
        await ask(pilot, "What is 12 times 7?")
        await wait_until(pilot, lambda: answers(pilot) and answers(pilot)[0].text, "the text to stream")

        await wait_until(pilot, lambda: "writing" in app.query_one("#status").status.state, "the status")
        assert not answers(pilot)[0].finished, "the status changed while the text was still streaming"
        await answer_finished(pilot, 1)


async def test_a_status_that_arrives_after_a_newer_one_never_replaces_it(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    """Statuses go to the app straight from whoever reports them, so one can overtake another on the way."""
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: state(pilot) == "idle", "the app to be ready")
        older, newer = StatusChanged(state="thinking"), StatusChanged(state="writing")
        app.post_message(newer)
        app.post_message(older)
        await pilot.pause()

        assert state(pilot) == "writing"


async def test_a_model_given_as_a_file_is_named_by_its_stem_and_the_figures_still_fit(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    model = "/home/someone/models/unsloth/Qwen3-30B-A3B-Instruct-2507-Q4_K_M.gguf"
    scripted_openai.reply("84.")
    config = scripted_config(tmp_path, model_path, scripted_openai, **{"llm.mlx.model": model})
    app = AssistantApp(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, "What is 12 times 7?")
        await answer_finished(pilot, 1)

        status = seen_lines(pilot, app.query_one("#status"))[0]
        assert "mlx: Qwen3-30B" in status and "/home" not in status, "the model is named by its file's stem"
        assert "tok/s" in status and "tokens" in status, "the figures fit at 80 columns"
        assert "mlx: Qwen3-30B-A3B-Instruct-2507-Q4_K_M" in app.query_one("#status").line(200)
