"""A long saved conversation opens at its end, every turn of it can be reached and copied, the model sees the last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from assistant.store import ConversationStore
from assistant.tui.app import AssistantApp
from assistant.tui.chat_log import KEPT_SHOWN, EarlierMessages
from assistant.tui.widgets import AssistantMessage, ToolCallEntry, UserMessage
from llm import Message, MessageRole, ToolCall
from tests.assistant.tui_helpers import answers, ask, errors, scripted_config, seen_lines, state, wait_until

MESSAGES = 500


def question(n: int) -> str:
    return f"Question {n}: what is {n} squared?"


def answer(n: int) -> str:
    return f"**{n} squared** is {n * n}.\n\n- checked\n- twice"


def resumed_app(tmp_path: Path, model_path: Path, server: Any, messages: int = MESSAGES) -> AssistantApp:
    """The app continuing a saved conversation of ``messages`` messages: questions and their answers."""
    config = scripted_config(tmp_path, model_path, server)
    with ConversationStore.open_default(config.data_dir) as store:
        conversation = store.create(title="Squares")
        for n in range(messages // 2):
            store.add_message(conversation, Message(MessageRole.USER, question(n)))
            store.add_message(conversation, Message(MessageRole.ASSISTANT, answer(n)))
    return AssistantApp(config, resume=True)


async def restored(pilot: Pilot) -> None:
    """The conversation is drawn up to a screen above its end (or whole), as it opens."""
    log = pilot.app.query_one("#log")
    await wait_until(pilot, lambda: answers(pilot) and answers(pilot)[-1].finished, "the restored conversation")
    await wait_until(pilot, lambda: log.scroll_y >= log.size.height or not pilot.app.query(EarlierMessages),
                     "a screen of it drawn above the end")


async def test_a_conversation_of_500_messages_opens_at_its_last_turn_and_every_turn_can_be_copied(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    app = resumed_app(tmp_path, model_path, scripted_openai)
    async with app.run_test(size=(100, 40)) as pilot:
        await restored(pilot)
        await pilot.pause()
        log = app.query_one("#log")
        shown = "\n".join(seen_lines(pilot, log))
        last = MESSAGES // 2 - 1
        assert question(last) in shown and f"{last} squared is {last * last}." in shown
        assert len(app.session.context.get_messages()) < MESSAGES, "the model is sent only the last turns"

        while app.query(EarlierMessages):
            log.scroll_home(animate=False)
            await pilot.pause()
        await wait_until(pilot, lambda: all(entry.finished for entry in answers(pilot)), "every answer drawn")

        questions = [entry.copy_text() for entry in app.query(UserMessage)]
        replies = [entry.copy_text() for entry in app.query(AssistantMessage)]
        assert questions == [question(n) for n in range(MESSAGES // 2)]
        assert replies == [answer(n) for n in range(MESSAGES // 2)]
        first = app.query(AssistantMessage).first()
        first.focus()
        await pilot.press("c")
        assert app.clipboard == answer(0)


async def test_shift_tab_from_the_oldest_drawn_turn_draws_the_turns_before_it(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    app = resumed_app(tmp_path, model_path, scripted_openai)
    async with app.run_test(size=(100, 40)) as pilot:
        await restored(pilot)
        oldest_drawn = app.query(UserMessage).first()
        oldest_drawn.focus()

        await pilot.press("shift+tab")
        await wait_until(pilot, lambda: app.focused is not None and app.focused is not oldest_drawn
                         and not isinstance(app.focused, EarlierMessages), "focus on an earlier turn")

        assert isinstance(app.focused, AssistantMessage)
        assert app.focused.copy_text() == answer(int(oldest_drawn.copy_text().split()[1].rstrip(":")) - 1)


async def test_enter_on_an_old_message_goes_back_to_the_prompt_and_the_end_of_the_log(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    app = resumed_app(tmp_path, model_path, scripted_openai, messages=20)
    async with app.run_test(size=(100, 30)) as pilot:
        await restored(pilot)
        log = app.query_one("#log")
        oldest_drawn = app.query(UserMessage).first()
        oldest_drawn.focus()
        await wait_until(pilot, lambda: oldest_drawn.text in "\n".join(seen_lines(pilot, log)),
                         "focus to scroll the log up to an old question, while earlier turns are drawn above it")

        await pilot.press("enter")
        await pilot.pause()

        assert app.query_one("#prompt").has_focus
        assert "9 squared is 81." in "\n".join(seen_lines(pilot, log)), "the log is back at its last answer"
        for _ in range(5):  # a batch of earlier turns still being drawn above when Enter came
            await pilot.pause()
        assert "9 squared is 81." in "\n".join(seen_lines(pilot, log)), "the log stays at its last answer"


async def test_a_continued_answer_shows_its_tool_calls_with_their_results_between_its_words(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    clock = ToolCall(id="call_1", name="current_time", arguments={"timezone": "Europe/Paris"})
    sums = ToolCall(id="call_2", name="calculator", arguments={"expression": "1 / 0"})
    config = scripted_config(tmp_path, model_path, scripted_openai)
    with ConversationStore.open_default(config.data_dir) as store:
        conversation = store.create(title="Tools")
        for message in [
            Message(MessageRole.USER, "What time is it in Paris, and what is 1 / 0?"),
            Message(MessageRole.ASSISTANT, "Let me check. ", tool_calls=[clock, sums]),
            Message(MessageRole.TOOL, "14:05", name="current_time", tool_call_id="call_1"),
            Message(MessageRole.TOOL, "calculator failed: division by zero", name="calculator",
                    tool_call_id="call_2", is_error=True),
            Message(MessageRole.ASSISTANT, "It is 14:05 in Paris; 1 / 0 has no value."),
        ]:
            store.add_message(conversation, message)
    app = AssistantApp(config, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await restored(pilot)
        await pilot.pause()

        answer = app.query_one(AssistantMessage)
        found, failed = app.query(ToolCallEntry)
        assert answer.text == "Let me check. It is 14:05 in Paris; 1 / 0 has no value."
        assert "current_time" in found.title and found.title.endswith("— result")
        assert "14:05" in str(found.details.render())
        assert "calculator" in failed.title and failed.title.endswith("— error") and failed.has_class("error")
        assert "division by zero" in str(failed.details.render())
        shown = "\n".join(seen_lines(pilot, app.query_one("#log")))
        assert shown.index("Let me check.") < shown.index("current_time") < shown.index("It is 14:05")


async def test_a_conversation_grown_long_in_the_app_folds_its_oldest_turns_and_shows_them_again_scrolled_back(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    turns = KEPT_SHOWN // 2 + 3
    for n in range(turns):
        scripted_openai.reply(answer(n))
    app = AssistantApp(scripted_config(tmp_path, model_path, scripted_openai))
    async with app.run_test(size=(100, 40)) as pilot:
        for n in range(turns):
            await ask(pilot, question(n))
            await wait_until(pilot, lambda n=n: last_answer_is(pilot, answer(n)), f"answer {n}")
            if n == 0:
                first_figures = figures(app.query(AssistantMessage).first())
        drawn = [entry.text for entry in app.query(UserMessage)]
        assert len(drawn) < turns and drawn[-1] == question(turns - 1), "only the latest turns stay drawn"
        assert question(turns - 1) in "\n".join(seen_lines(pilot, app.query_one("#log")))

        log = app.query_one("#log")
        while app.query(EarlierMessages):
            log.scroll_home(animate=False)
            await pilot.pause()

        assert [entry.text for entry in app.query(UserMessage)] == [question(n) for n in range(turns)]
        first = app.query(AssistantMessage).first()
        assert first.copy_text() == answer(0) and figures(first) == first_figures and first_figures
        first.focus()
        await pilot.press("c")
        assert app.clipboard == answer(0)


def last_answer_is(pilot: Pilot, text: str) -> bool:
    """The last answer drawn says ``text``, finished, and the app is idle (the count drawn shrinks as turns fold)."""
    drawn = answers(pilot)
    return bool(drawn) and drawn[-1].text == text and drawn[-1].finished and state(pilot) == "idle"


def figures(answer: AssistantMessage) -> list[str]:
    """The answer's figures line (the model and its speed), as shown."""
    return [str(label.render()) for label in answer.query(".figures")]


async def test_a_continued_conversation_still_says_what_is_wrong_with_the_config_theme(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    config = scripted_config(tmp_path, model_path, scripted_openai, **{"tui.theme": "no-such-theme"})
    with ConversationStore.open_default(config.data_dir) as store:
        store.add_message(store.create(title="Squares"), Message(MessageRole.USER, question(3)))
    app = AssistantApp(config, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.query(UserMessage), "the restored conversation")
        await pilot.pause()

        assert any("tui.theme 'no-such-theme' is not a theme" in error for error in errors(pilot))
        assert app.query_one(UserMessage).copy_text() == question(3)


async def answered(pilot: Pilot, text: str) -> None:
    await wait_until(pilot, lambda: answers(pilot)[-1].finished and answers(pilot)[-1].copy_text() == text
                     and state(pilot) == "idle", f"the answer {text!r}")


async def test_page_up_and_down_read_the_conversation_from_the_prompt_and_the_end_follows_again(
    tmp_path: Path, model_path: Path, scripted_openai
) -> None:
    app = resumed_app(tmp_path, model_path, scripted_openai, messages=40)
    async with app.run_test(size=(100, 30)) as pilot:
        await restored(pilot)
        log = app.query_one("#log")
        prompt = app.query_one("#prompt")
        last = "19 squared is 361."

        await pilot.press("pageup", "pageup")
        await pilot.pause()
        assert last not in "\n".join(seen_lines(pilot, log)), "the log shows what was said above"
        await pilot.press("h", "i")
        assert prompt.has_focus and prompt.text == "hi", "typing still goes to the prompt"

        prompt.clear()
        await ask(pilot, "one more")
        await answered(pilot, "You said: one more")
        assert "You said: one more" not in "\n".join(seen_lines(pilot, log)), "reading above, the screen stays put"

        for _ in range(10):
            await pilot.press("pagedown")
        await pilot.pause()
        assert "You said: one more" in "\n".join(seen_lines(pilot, log)), "paged down to the end of the log"
        await ask(pilot, "and another")
        await answered(pilot, "You said: and another")
        await pilot.pause()
        assert "You said: and another" in "\n".join(seen_lines(pilot, log)), "at the end, the log follows again"
