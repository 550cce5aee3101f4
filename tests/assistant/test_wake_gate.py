"""Which utterances are turns in wake-word mode, and what of them reaches the model."""

from __future__ import annotations

import pytest

from assistant.voice.settings import VoiceSettings
from assistant.voice.wake import WakeGate, strip_call


def gate(**settings: object) -> WakeGate:
    return WakeGate(VoiceSettings(mode="wake_word", **settings))


@pytest.mark.parametrize(
    ("heard", "turn"),
    [
        ("Rosie, what time is it?", "What time is it?"),
        ("Hey Rosey, what's the weather like?", "What's the weather like?"),
        ("Rosy. Turn on the lights.", "Turn on the lights."),
        ("OK Rosie what is 2 plus 2", "What is 2 plus 2"),
    ],
)
def test_a_name_at_the_start_calls_it_and_is_not_sent(heard: str, turn: str) -> None:
    assert gate(wake_word="rosey").turn_text(heard, 0.0, 2.0) == turn


@pytest.mark.parametrize("heard", ["What time is it?", "The rose garden is lovely.", "Ask Rosie later."])
def test_speech_without_the_name_is_not_a_turn(heard: str) -> None:
    assert gate(wake_word="rosey").turn_text(heard, 0.0, 2.0) is None


def test_a_model_detection_inside_the_utterance_calls_it() -> None:
    waiting = gate(wake_word="hey_jarvis")

    assert waiting.turn_text("Hey Jarvis, what time is it?", 1.0, 3.0) is None, "no detection yet"
    waiting.detected(1.8)
    assert waiting.turn_text("Hey Jarvis, what time is it?", 1.0, 3.0) == "What time is it?"
    assert waiting.turn_text("What is the time in Paris?", 6.0, 8.0) is None, "that detection was for another utterance"


def test_what_whisper_misspells_is_still_sent_once_the_model_heard_the_call() -> None:
    waiting = gate(wake_word="okay_nabu")
    waiting.detected(1.2)

    assert waiting.turn_text("OK, Naboo, turn on the lights.", 0.5, 3.0) == "Turn on the lights."
    waiting.detected(5.2)
    assert waiting.turn_text("Lights on in the kitchen.", 4.5, 7.0) == "Lights on in the kitchen."


def test_a_call_alone_wakes_it_for_what_comes_next() -> None:
    waiting = gate(wake_word="rosey", follow_up_s=5.0)

    assert waiting.turn_text("Rosie?", 0.0, 0.6) == ""
    assert not waiting.waiting(2.0)
    assert waiting.turn_text("What time is it?", 2.0, 3.0) == "What time is it?"


def test_after_an_answer_a_follow_up_needs_no_call_until_the_window_closes() -> None:
    waiting = gate(wake_word="rosey", follow_up_s=4.0)
    assert waiting.turn_text("Rosie, what is 2 plus 2?", 0.0, 1.5) == "What is 2 plus 2?"
    waiting.reply_started()

    assert waiting.turn_text("Stop, that's enough.", 2.0, 2.5) == "Stop, that's enough.", "talking over the answer"
    waiting.reply_ended(3.0)
    assert waiting.turn_text("And 3 plus 3?", 5.0, 6.0) == "And 3 plus 3?"
    assert waiting.turn_text("And 4 plus 4?", 7.5, 8.5) is None


def test_outside_wake_word_mode_every_utterance_is_a_turn() -> None:
    hands_free = WakeGate(VoiceSettings(mode="hands_free", wake_word="rosey"))

    assert hands_free.turn_text("What time is it?", 0.0, 1.0) == "What time is it?"
    assert not hands_free.waiting(0.0)


def test_the_call_is_found_with_a_greeting_before_it() -> None:
    assert strip_call("Hey, Jarvis! Lights off.", "hey jarvis", 0.6) == "Lights off."
    assert strip_call("Alexa, play some music.", "alexa", 0.75) == "Play some music."
    assert strip_call("Play some music.", "alexa", 0.75) is None
