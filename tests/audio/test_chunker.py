"""SpeechChunker: a streamed answer becomes speakable chunks, the first one as early as possible."""

from __future__ import annotations

import pytest

from audio.chunker import CODE_PLACEHOLDER, SpeechChunker, split_sentences
from tests.audio.streaming import deltas


def chunks_of(text: str, pieces: str = "tokens", seed: int = 0) -> list[str]:
    """Feed ``text`` the way a model streams it and collect every chunk, flush included."""
    chunker = SpeechChunker()
    out: list[str] = []
    for delta in deltas(text, pieces, seed):
        out.extend(chunker.feed(delta))
    return out + chunker.flush()


TRICKY = "Dr. Smith paid $3.50, e.g. for https://example.com/a.b — then left. He was happy! Was he? Yes."


def test_numbers_abbreviations_and_urls_are_never_split() -> None:
    assert chunks_of(TRICKY) == [
        "Dr. Smith paid $3.50,",
        "e.g. for https://example.com/a.b — then left.",
        "He was happy!",
        "Was he?",
        "Yes.",
    ]


@pytest.mark.parametrize("pieces", ["characters", "whole", "tokens"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunks_do_not_depend_on_how_the_text_was_streamed(pieces: str, seed: int) -> None:
    text = TRICKY + "\n\n# Steps\n\n1. Mix **2.5 cups** of flour.\n2. Bake.\n\n```sh\nmake. Run\n```\nDone."
    assert chunks_of(text, pieces, seed) == chunks_of(text, "characters")


def test_first_chunk_comes_at_the_first_clause_after_a_few_words() -> None:
    chunker = SpeechChunker()
    assert chunker.feed("Sure, the capital of France is Paris") == []
    assert chunker.feed(", a city of about two million") == ["Sure, the capital of France is Paris,"]
    assert chunker.feed(" people, famous for art.") == []
    assert chunker.feed(" It has museums.") == ["a city of about two million people, famous for art."]
    assert chunker.flush() == ["It has museums."]


def test_a_sentence_end_is_released_as_soon_as_the_next_word_begins() -> None:
    chunker = SpeechChunker()
    assert chunker.feed("It is 21 degrees.") == []
    assert chunker.feed(" Tomorrow") == ["It is 21 degrees."]


def test_decimal_numbers_stay_whole_even_when_split_across_deltas() -> None:
    chunker = SpeechChunker()
    assert chunker.feed("Pi is about 3.") == []
    assert chunker.feed("14159 and e is 2.") == []
    assert chunker.feed("71828. Both") == ["Pi is about 3.14159 and e is 2.71828."]


def test_initials_times_and_lowercase_continuations_do_not_end_sentences() -> None:
    assert chunks_of("It was J. K. Rowling at 5 p.m. Then she left, i.e. went home. She saw the sun. Nice.") == [
        "It was J. K. Rowling at 5 p.m.",
        "Then she left, i.e. went home.",
        "She saw the sun.",
        "Nice.",
    ]


def test_markdown_is_read_as_words_without_its_symbols() -> None:
    text = (
        "# Shopping list\n\n"
        "You will need:\n\n"
        "- **2 eggs**\n"
        "* 1.5 cups of _flour_\n"
        "1. Read [the guide](https://example.com/guide_(v2)) first.\n"
        "> Tip: use `my_bowl.mix()` here.\n\n"
        "| item | price |\n|---|---:|\n| eggs | 3 |\n\n"
        "---\n"
        "That's it."
    )
    assert chunks_of(text) == [
        "Shopping list.",
        "You will need:",
        "2 eggs.",
        "1.5 cups of flour.",
        "Read the guide first.",
        "Tip: use my_bowl.mix() here.",
        "item, price.",
        "eggs, 3.",
        "That's it.",
    ]


def test_code_blocks_are_not_read_out_but_announced_once() -> None:
    text = (
        "Here is the script:\n\n```python\nprint('Hello. World')\n```\n\n"
        "And a second one:\n~~~\nls -la\n~~~\nRun them."
    )
    assert chunks_of(text) == [
        "Here is the script:",
        CODE_PLACEHOLDER,
        "And a second one:",
        "Run them.",
    ]


def test_a_code_block_inside_a_list_item_is_not_read_out_either() -> None:
    text = "1. Install it:\n    ```sh\n    pip install rosey\n    ```\n2. Run `rosey`."
    assert chunks_of(text) == ["Install it:", CODE_PLACEHOLDER, "Run rosey."]


def test_an_unfinished_code_block_is_dropped_at_the_end() -> None:
    assert chunks_of("Try this:\n```\nwhile True:\n    pass") == ["Try this:", CODE_PLACEHOLDER]


def test_a_very_long_sentence_is_cut_at_a_clause_so_speech_does_not_stall() -> None:
    clause = "and then the little train went on over the hills"
    text = ", ".join([clause] * 10) + "."
    chunks = chunks_of(text)
    assert len(chunks) > 1
    assert all(len(chunk) <= 310 for chunk in chunks)
    assert " ".join(chunks).replace(",", "") == text.replace(",", "")


def test_nothing_speakable_gives_no_chunks() -> None:
    assert chunks_of("**  **\n\n---\n\n```\ncode only\n```") == [CODE_PLACEHOLDER]
    assert chunks_of("") == []


def test_split_sentences_has_no_early_clause_chunk() -> None:
    assert split_sentences("Hello there, my friend. How are you?") == ["Hello there, my friend.", "How are you?"]


def test_split_sentences_can_speak_the_first_clause_on_its_own() -> None:
    assert split_sentences("When you leave tonight, lock the back door. Sleep well.", early_first_chunk=True) == [
        "When you leave tonight,", "lock the back door.", "Sleep well."]


def test_a_multiplication_sign_is_said_as_times() -> None:
    from audio.markdown import speakable

    assert speakable("12 * 7 = 84, and 3×4 is **12**") == "12 times 7 = 84, and 3 times 4 is 12"


class _Clock:
    """Time that moves only when the test says, so the limit is tested without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_run_with_no_boundary_is_spoken_once_the_first_chunk_limit_passes() -> None:
    clock = _Clock()
    chunker = SpeechChunker(first_chunk_limit=0.5, clock=clock)
    words = "apples bananas cherries dates elderberries figs grapes".split()
    released: list[tuple[float, str]] = []
    for word in words * 3:
        released += [(clock.now, chunk) for chunk in chunker.feed(word + " ")]
        clock.now += 0.1

    (released_at, first), *later = released
    assert released_at == pytest.approx(0.5)
    assert first == "apples bananas cherries dates elderberries figs", "whole words only: none is cut"
    assert later == [], "after the first chunk, chunks end at boundaries again"
    assert " ".join([first, *chunker.flush()]).rstrip(".") == " ".join(words * 3)


def test_a_long_number_is_not_held_until_the_answer_ends() -> None:
    clock = _Clock()
    chunker = SpeechChunker(first_chunk_limit=0.5, clock=clock)
    digits = "1234567890" * 25
    released = []
    for start in range(0, len(digits), 5):
        released += chunker.feed(digits[start : start + 5])
        clock.now += 0.05
    assert released and digits.startswith(released[0])
    assert "".join(released + chunker.flush()).rstrip(".") == digits


def test_without_a_limit_the_first_chunk_waits_for_a_boundary() -> None:
    clock = _Clock()
    chunker = SpeechChunker(clock=clock)
    for word in "apples bananas cherries dates elderberries figs grapes".split():
        assert chunker.feed(word + " ") == []
        clock.now += 10
