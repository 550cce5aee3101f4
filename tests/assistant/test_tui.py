"""The TUI driven as a person would, with the real embedded model unless a test says otherwise."""

from __future__ import annotations

import gc
from pathlib import Path

from assistant.session import Session
from assistant.tui import slash
from assistant.tui.app import AssistantApp
from assistant.tui.chat_log import ChatLog
from assistant.tui.screens import PickerScreen
from assistant.tui.slash_commands import SlashCommands
from assistant.tui.widgets import ToolCallEntry, UserMessage
from tests.assistant.tui_helpers import (
    answer_finished,
    answers,
    ask,
    errors,
    notices,
    scripted_config,
    seen_lines,
    status_line,
    tui_config,
    wait_until,
)
from tests.conftest import free_port

SIZE = (100, 40)


async def test_a_typed_question_streams_back_an_answer(tmp_path: Path, model_path: Path) -> None:
    app = AssistantApp(tui_config(tmp_path, model_path))
    async with app.run_test(size=SIZE) as pilot:
        assert "local: gemma-3-270m" in status_line(pilot)
        await ask(pilot, "What is 12 times 7?")

        answer = await answer_finished(pilot, 1)

        assert answer.text.strip(), "the embedded model answered"
        said = app.session.context.get_messages()[-1].content
        assert said.strip() == answer.text.strip(), "what is shown is what the model said"
        assert [m.text for m in app.query(UserMessage)] == ["What is 12 times 7?"]
        assert "tok/s" in status_line(pilot) and "tokens" in status_line(pilot)
        assert app.query_one("#prompt").text == "", "the prompt is cleared for the next message"


async def test_the_app_collects_garbage_again_once_its_first_frame_is_drawn(tmp_path: Path, model_path: Path) -> None:
    gc.disable()  # as `assistant` starts it: nothing is collected while start-up makes what lives as long as the app
    try:
        app = AssistantApp(tui_config(tmp_path, model_path))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, gc.isenabled, "the garbage collector to run again")
    finally:
        gc.enable()


async def test_escape_stops_the_answer_and_the_app_stays_usable(tmp_path: Path, model_path: Path) -> None:
    app = AssistantApp(tui_config(tmp_path, model_path, **{"llm.local.max_tokens": 400}))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "List the numbers from 1 to 200.")
        await wait_until(pilot, lambda: answers(pilot) and len(answers(pilot)[0].text) > 10, "the answer to start")

        await pilot.press("escape")

        await answer_finished(pilot, 1)
        assert "[interrupted]" in str(answers(pilot)[0].query("Label").last().render())
        assert app.session.context.get_messages()[-1].content.endswith("[interrupted]")

        await ask(pilot, "What is 12 times 7?")
        assert (await answer_finished(pilot, 2)).text.strip()
        assert errors(pilot) == []


async def test_switching_to_a_server_mid_conversation_keeps_the_earlier_turns(
    tmp_path: Path, model_path: Path, llama_server
) -> None:
    config = tui_config(tmp_path, model_path, **{
        "llm.mlx.base_url": llama_server.base_url, "llm.mlx.model": "gemma-3-270m", "llm.mlx.max_tokens": 48,
    })
    app = AssistantApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "My name is Ada and my cat is called Pixel.")
        await answer_finished(pilot, 1)

        await ask(pilot, "/backend mlx")
        await wait_until(pilot, lambda: "mlx: gemma-3-270m" in status_line(pilot), "the switch to mlx")
        await ask(pilot, "What is my cat called?")
        await answer_finished(pilot, 2)

        assert errors(pilot) == []
        sent = [m.content for m in app.session.context.get_messages()]
        assert "My name is Ada and my cat is called Pixel." in sent
        assert app.session.provider.name == "mlx"
        first, second = app.session.store.messages(app.session.conversation_id)[1::2][:2]
        assert (first.backend, second.backend) == ("local", "mlx"), "each answer records who wrote it"


async def test_an_unreachable_backend_is_reported_and_the_previous_one_stays(
    tmp_path: Path, model_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    app = AssistantApp(tui_config(tmp_path, model_path, **{"llm.ollama.base_url": dead, "llm.ollama.max_retries": 0}))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "/backend ollama")

        await wait_until(pilot, lambda: errors(pilot), "the error")
        assert "ollama serve" in errors(pilot)[0] and "still using local" in errors(pilot)[0]
        assert "local: gemma-3-270m" in status_line(pilot)

        await ask(pilot, "What is 12 times 7?")
        assert (await answer_finished(pilot, 1)).text.strip()
        answered = app.session.store.messages(app.session.conversation_id)[-1]
        assert answered.backend == "local", "the answer came from the backend kept"


async def test_a_tool_call_is_shown_with_its_arguments_and_result(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply(tool_calls=[("calculator", {"expression": "12 * 7"})])
    scripted_openai.reply("12 times 7 is **84**.")
    config = scripted_config(tmp_path, model_path, scripted_openai)
    app = AssistantApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.orchestrator.tools is not None, "the tools to start")
        await ask(pilot, "What is 12 times 7?")
        answer = await answer_finished(pilot, 1)

        entry = app.query_one(ToolCallEntry)
        assert "calculator (built-in)" in str(entry.title) and "result" in str(entry.title)
        assert "84" in str(entry.details.render())
        assert answer.text == "12 times 7 is **84**."
        assert scripted_openai.requests[1]["messages"][-1]["content"] == "84"


async def test_continue_restores_the_last_conversation(tmp_path: Path, model_path: Path) -> None:
    config = tui_config(tmp_path, model_path)
    async with AssistantApp(config).run_test(size=SIZE) as pilot:
        await ask(pilot, "What is 12 times 7?")
        first_answer = (await answer_finished(pilot, 1)).text

    app = AssistantApp(config, resume=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: answers(pilot), "the restored conversation")
        assert [m.text for m in app.query(UserMessage)] == ["What is 12 times 7?"]
        assert answers(pilot)[0].text.strip() == first_answer.strip()
        assert any("Continuing “What is 12 times 7?”" in n for n in notices(pilot))
        assert len(app.session.context.get_messages()) == 3


async def test_personas_switch_from_the_prompt_and_unknown_ones_list_the_choices(
    tmp_path: Path, model_path: Path
) -> None:
    app = AssistantApp(tui_config(tmp_path, model_path))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "/persona concise")
        await wait_until(pilot, lambda: "persona concise" in status_line(pilot), "the persona to change")
        assert "at most two sentences" in app.session.context.system_message

        await ask(pilot, "/persona pirate")
        await wait_until(pilot, lambda: errors(pilot), "the error")
        assert "unknown persona 'pirate'" in errors(pilot)[0] and "technical" in errors(pilot)[0]


async def test_up_brings_back_the_previous_message(tmp_path: Path, model_path: Path) -> None:
    app = AssistantApp(tui_config(tmp_path, model_path))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "/persona")
        await pilot.press("up")
        assert app.query_one("#prompt").text == "/persona"


async def test_copy_puts_the_last_answer_or_its_last_code_block_on_the_clipboard(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    reply = "Two ways:\n\n```python\nprint(1)\n```\n\nor\n\n```python\nprint(2)\n```"
    scripted_openai.reply(reply)
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Print a number in Python.")
        await answer_finished(pilot, 1)

        await pilot.press("f2")
        assert app.clipboard == reply

        await ask(pilot, "/copy code")
        await wait_until(pilot, lambda: app.clipboard != reply, "the code to be copied")
        assert app.clipboard == "print(2)"


async def test_a_file_goes_before_the_next_message_only(tmp_path: Path, model_path: Path, scripted_openai) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The cat is called Pixel.", encoding="utf-8")
    config = scripted_config(tmp_path, model_path, scripted_openai)
    app = AssistantApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, f"/file {notes}")
        await wait_until(pilot, lambda: any("before your next message" in n for n in notices(pilot)), "the file")
        await ask(pilot, "What is the cat called?")
        await answer_finished(pilot, 1)
        await ask(pilot, "And the dog?")
        await answer_finished(pilot, 2)

        first, second = (request["messages"][-1]["content"] for request in scripted_openai.requests)
        assert "The cat is called Pixel." in first and "What is the cat called?" in first
        assert second == "And the dog?"
        shown = [str(label.render()) for label in app.query(UserMessage).first().query(".attachment")]
        assert shown == ["📎 notes.txt"]


async def test_model_without_a_name_offers_the_backend_s_models_to_pick(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    config = scripted_config(tmp_path, model_path, scripted_openai, **{"llm.mlx.model": "another-model"})
    app = AssistantApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "/model")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), "the picker")
        await pilot.press("enter")

        await wait_until(pilot, lambda: "mlx: scripted-model" in status_line(pilot), "the switch to the model picked")
        assert errors(pilot) == []


def test_every_command_the_help_lists_is_one_the_prompt_runs(tmp_path: Path, model_path: Path) -> None:
    commands = SlashCommands(Session(tui_config(tmp_path, model_path)), ChatLog())
    assert set(commands.handlers) == slash.NAMES


async def test_save_exports_the_conversation_as_markdown(tmp_path: Path, model_path: Path) -> None:
    app = AssistantApp(tui_config(tmp_path, model_path))
    target = tmp_path / "talk.md"
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What is 12 times 7?")
        answer = await answer_finished(pilot, 1)
        await ask(pilot, f"/save {target}")
        await wait_until(pilot, target.exists, "the export")

    exported = target.read_text()
    assert "What is 12 times 7?" in exported and answer.text.strip() in exported
    assert "local/gemma-3-270m" in exported


async def test_thinking_is_kept_apart_from_the_answer_and_folded_away(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply("The answer is 84.", reasoning="12 times 7: 10 sevens are 70, plus 14 makes 84.")
    config = scripted_config(tmp_path, model_path, scripted_openai)
    app = AssistantApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What is 12 times 7?")
        answer = await answer_finished(pilot, 1)

        assert answer.text == "The answer is 84."
        assert answer.thinking.collapsed and answer.thinking.display
        assert "10 sevens are 70" in str(answer.query_one(".reasoning").render())
        await pilot.press("ctrl+r")
        assert not answer.thinking.collapsed


async def test_an_answer_that_ends_inside_a_code_fence_still_shows_its_code(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    scripted_openai.reply("Run this:\n\n```python\nprint('hello')\n", pieces=12)
    config = scripted_config(tmp_path, model_path, scripted_openai)
    app = AssistantApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Show me hello world in Python.")
        answer = await answer_finished(pilot, 1)

        shown = [line.lstrip("█").strip() for line in seen_lines(pilot, answer)]  # less the answer's border
        assert "print('hello')" in shown and "Run this:" in shown
