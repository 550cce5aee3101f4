"""Answers are cut into CyTube chat lines: plain text, short lines, at most a few of them."""

from __future__ import annotations

from assistant.rosey.chunking import ELLIPSIS, chunk_message, strip_markdown


def test_a_short_answer_is_one_line_as_written() -> None:
    assert chunk_message("Hello alice, nice to see you!") == ["Hello alice, nice to see you!"]


def test_markdown_is_stripped_and_newlines_flattened() -> None:
    answer = (
        "# Reversing a string\n\n"
        "Use **slicing** with `[::-1]`, see [the docs](https://docs.python.org).\n\n"
        "```python\ns = 'hello'[::-1]\n```\n"
        "- works on *any* sequence\n- costs O(n)\n"
        "> snake_case names stay as they are"
    )
    assert strip_markdown(answer) == (
        "Reversing a string. Use slicing with [::-1], see the docs (https://docs.python.org). "
        "s = 'hello'[::-1] works on any sequence. costs O(n). snake_case names stay as they are"
    )


def test_a_link_shows_its_address_once_and_code_in_a_link_is_plain() -> None:
    answer = "See [https://docs.python.org](https://docs.python.org) or [`len`](https://docs.python.org/3/len)."
    assert strip_markdown(answer) == "See https://docs.python.org or len (https://docs.python.org/3/len)."


def test_code_showing_a_fence_stays_code_until_its_own_fence_closes() -> None:
    answer = "Write this:\n````markdown\n```python\nprint('**hi**')\n```\n````\n- then *save*"
    assert strip_markdown(answer) == "Write this: ```python print('**hi**') ``` then save."


def test_tables_become_comma_separated_rows() -> None:
    assert strip_markdown("| name | age |\n|---|---|\n| alice | 30 |") == "name, age. alice, 30."


def test_long_answers_are_cut_at_sentence_boundaries_within_the_limit() -> None:
    sentences = [f"Sentence number {i} says something short." for i in range(12)]
    chunks = chunk_message(" ".join(sentences), max_chars=100, max_messages=10)

    assert all(len(chunk) <= 100 for chunk in chunks)
    assert all(chunk.endswith(".") for chunk in chunks)
    assert " ".join(chunks) == " ".join(sentences)


def test_a_sentence_longer_than_a_line_is_cut_between_words() -> None:
    sentence = " ".join(["word"] * 100) + "."
    chunks = chunk_message(sentence, max_chars=50, max_messages=20)

    assert all(len(chunk) <= 50 for chunk in chunks)
    assert all(not chunk.startswith(" ") and not chunk.endswith(" ") for chunk in chunks)
    assert " ".join(chunks) == sentence


def test_a_word_longer_than_a_line_is_cut_anywhere() -> None:
    url = "https://example.com/" + "x" * 130
    chunks = chunk_message(url, max_chars=60, max_messages=5)

    assert [len(chunk) for chunk in chunks] == [60, 60, 30]
    assert "".join(chunks) == url


def test_at_most_max_messages_lines_and_a_cut_answer_ends_with_an_ellipsis() -> None:
    text = " ".join(f"This is sentence {i} of a very long answer indeed." for i in range(40))
    chunks = chunk_message(text, max_chars=80, max_messages=3)

    assert len(chunks) == 3
    assert chunks[-1].endswith(ELLIPSIS)
    assert all(len(chunk) <= 80 for chunk in chunks)


def test_an_empty_answer_is_no_lines() -> None:
    assert chunk_message("  \n\n ") == []
