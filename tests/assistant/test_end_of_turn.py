"""The words' opinion on whether a turn is over, beside the end-of-turn model's."""

from __future__ import annotations

import pytest

from assistant.voice.end_of_turn import sounds_unfinished


@pytest.mark.parametrize("heard", [
    "What's the weather like in?",       # Whisper's question mark on a phrase cut after "in"
    "Can you remind me to?",
    "Set a timer for.",
    "Turn off the lights in the",
    "I was wondering...",
    "And so my fellow Americans,",
    "Play something by Miles Davis and",
    "Add eggs to my, um",
])
def test_a_phrase_that_stops_before_its_noun_or_trails_off_is_unfinished(heard: str) -> None:
    assert sounds_unfinished(heard)


@pytest.mark.parametrize("heard", [
    "What is the capital of France?",
    "Set a timer for ten minutes.",
    "What time is it in Tokyo",           # no end punctuation: the words are whole
    "Play some jazz!",
    "",
])
def test_a_whole_request_is_not_unfinished(heard: str) -> None:
    assert not sounds_unfinished(heard)


def test_a_question_that_ends_in_a_preposition_only_waits_longer() -> None:
    """The price of the rule: "from" is an open ending, so this turn ends at min_silence_ms, not sooner."""
    assert sounds_unfinished("Where are you from?")


def test_other_languages_are_judged_by_their_trailing_off_only() -> None:
    assert not sounds_unfinished("Was ist die Hauptstadt von", language="de")
    assert sounds_unfinished("Ich wollte fragen, ob…", language="de")
