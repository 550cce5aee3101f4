"""The app while the person speaks: the models load before the microphone opens, the words appear as they come."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.tui.app import AssistantApp
from assistant.tui.widgets import SpeechSoFar, UserMessage
from audio import WavFileInput, WavFileOutput
from tests.assistant.test_voice import silence, write_wav
from tests.assistant.tui_helpers import scripted_config, wait_until
from tests.audio.speech import JFK_PATH, JFK_TEXT, read_audio
from tests.wer import word_error_rate, words


async def test_the_words_so_far_appear_while_the_person_speaks_and_their_message_replaces_them(
    tmp_path: Path, model_path: Path, scripted_openai, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kennedy's sentence has four pauses: at each, what he said until then is shown, then his whole sentence.

    Only silence ends the turn here, and only a long one, so that his sentence is one turn whatever
    the end-of-turn model makes of his pauses.
    """
    scripted_openai.reply("Thank you.")
    config = scripted_config(
        tmp_path, model_path, scripted_openai, **{"audio.turn.enabled": False, "audio.vad.min_silence_ms": 3000}
    )
    speech = write_wav(tmp_path / "jfk.wav", silence(0.5), read_audio(JFK_PATH), silence(0.5))

    def devices() -> tuple[Any, Any]:
        return WavFileInput(speech, realtime=True, trailing_silence=3.5), WavFileOutput(tmp_path / "out.wav")

    app = AssistantApp(config, voice_devices=devices)
    states: list[str] = []
    shown_so_far: list[tuple[str, int]] = []
    set_status = app.set_status

    def status(state: str | None = None, last: Any = None) -> None:
        states.append(state or "")
        set_status(state, last)

    monkeypatch.setattr(app, "set_status", status)
    async with app.run_test(size=(100, 40)) as pilot:
        show_speech_so_far = app.chat_log.show_speech_so_far

        async def record(text: str) -> None:
            await show_speech_so_far(text)
            line = app.chat_log.query_one(SpeechSoFar)
            shown_so_far.append((str(line.render()), len(app.query(UserMessage))))

        monkeypatch.setattr(app.chat_log, "show_speech_so_far", record)
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.query(UserMessage), "his message")
        await wait_until(pilot, lambda: not app.query(SpeechSoFar), "the words so far to give way to the message")

        loading = [state for state in states if state.startswith("loading voice:")]
        assert loading and states.index(loading[-1]) < states.index("listening"), f"models first: {states}"
        message = app.query(UserMessage).last().text
        assert len(shown_so_far) >= 2, f"his words at two pauses at least: {shown_so_far}, then {message!r}"
        assert all(messages == 0 for _, messages in shown_so_far), "shown before his turn was a message"
        assert "americans" in words(shown_so_far[0][0]) and "country" not in words(shown_so_far[0][0])
        assert word_error_rate(JFK_TEXT, message) <= 0.2, message
