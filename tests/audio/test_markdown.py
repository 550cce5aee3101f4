"""One Markdown reader for the spoken answer and the chat line: the same rules, with the differences named."""

from __future__ import annotations

import pytest

from audio.markdown import Event, Kind, MarkdownLines, plain_text, speakable, with_full_stop
from tests.audio.streaming import deltas

ANSWER = (
    "# Steps\n\n"
    "1. Install it:\n"
    "    ```sh\n"
    "    pip install  rosey\n"
    "    ```\n"
    "2. Read [the guide](https://example.com/guide).\n"
    "> - a quoted *tip*\n\n"
    "| step | time |\n|---|---|\n| build | 2 s |\n"
    "---\n"
    "That's **all**"
)


def read(text: str, keep_code: bool, pieces: str = "whole", seed: int = 0) -> list[tuple[Kind, str]]:
    """The reader's events for ``text`` streamed in ``pieces``, the text pieces of each line joined into one."""
    reader = MarkdownLines(keep_code=keep_code)
    events: list[Event] = [event for delta in deltas(text, pieces, seed) for event in reader.feed(delta)]
    joined: list[tuple[Kind, str]] = []
    for event in events + reader.flush():
        if event.kind is Kind.TEXT and joined and joined[-1][0] is Kind.TEXT:
            joined[-1] = (Kind.TEXT, joined[-1][1] + event.text)
        else:
            joined.append((event.kind, event.text))
    return joined


@pytest.mark.parametrize(
    ("keep_code", "code"),
    [(True, [(Kind.CODE_BLOCK, ""), (Kind.CODE_LINE, "    pip install  rosey")]), (False, [(Kind.CODE_BLOCK, "")])],
    ids=["code kept", "code skipped"],
)
def test_block_markup_becomes_lines_and_fenced_code_is_kept_or_skipped(
    keep_code: bool, code: list[tuple[Kind, str]]
) -> None:
    assert read(ANSWER, keep_code) == [
        (Kind.TEXT, "Steps"), (Kind.ITEM_END, ""), (Kind.BREAK, ""),
        (Kind.TEXT, "Install it:"), (Kind.ITEM_END, ""),
        *code,
        (Kind.TEXT, "Read [the guide](https://example.com/guide)."), (Kind.ITEM_END, ""),
        (Kind.TEXT, "a quoted *tip*"), (Kind.ITEM_END, ""), (Kind.BREAK, ""),
        (Kind.TEXT, "step, time"), (Kind.ITEM_END, ""),
        (Kind.TEXT, "build, 2 s"), (Kind.ITEM_END, ""),
        (Kind.BREAK, ""),
        (Kind.TEXT, "That's **all**"), (Kind.LINE_END, ""),
    ]  # fmt: skip


@pytest.mark.parametrize("pieces", ["characters", "tokens"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_lines_do_not_depend_on_how_the_text_was_streamed(pieces: str, seed: int) -> None:
    assert read(ANSWER, keep_code=True, pieces=pieces, seed=seed) == read(ANSWER, keep_code=True)


def test_a_fence_inside_code_only_closes_it_when_it_is_as_long_as_the_opening_one() -> None:
    text = "````markdown\n```\nx = 1\n```\n````\nAfter."
    assert read(text, keep_code=True) == [
        (Kind.CODE_BLOCK, ""), (Kind.CODE_LINE, "```"), (Kind.CODE_LINE, "x = 1"), (Kind.CODE_LINE, "```"),
        (Kind.TEXT, "After."), (Kind.LINE_END, ""),
    ]  # fmt: skip


def test_an_unclosed_code_block_ends_with_the_text() -> None:
    assert read("Try:\n~~~\nwhile True:", keep_code=True) == [
        (Kind.TEXT, "Try:"), (Kind.LINE_END, ""), (Kind.CODE_BLOCK, ""), (Kind.CODE_LINE, "while True:")
    ]  # fmt: skip


LINKS = [
    # markdown, on a screen (address kept), spoken (text only)
    ("see [the docs](https://docs.python.org).", "see the docs (https://docs.python.org).", "see the docs."),
    ("[https://x.org](https://x.org)", "https://x.org", "https://x.org"),
    ('[the guide](https://e.com/g "The guide")', "the guide (https://e.com/g)", "the guide"),
    ("[guide](https://e.com/guide_(v2)) first", "guide (https://e.com/guide_(v2)) first", "guide first"),
    ("[`len`](https://docs.python.org/3/library/functions.html#len)",
     "len (https://docs.python.org/3/library/functions.html#len)", "len"),
    ("![a cat on a mat](cat.png)", "a cat on a mat", "a cat on a mat"),
    ("[the docs][1]", "the docs", "the docs"),
    ("<https://example.com/a>", "https://example.com/a", "https://example.com/a"),
]  # fmt: skip


@pytest.mark.parametrize(("markdown", "on_screen", "spoken"), LINKS)
def test_a_link_keeps_its_address_on_screen_but_is_said_as_its_text(markdown: str, on_screen: str, spoken: str) -> None:
    assert plain_text(markdown, link_addresses=True) == on_screen
    assert plain_text(markdown, link_addresses=False) == spoken
    assert speakable(markdown) == spoken


INLINE = [
    # markdown, on a screen, spoken
    ("**bold**, __strong__, *it*, _it_ and ~~gone~~", "bold, strong, it, it and gone", "bold, strong, it, it and gone"),
    ("snake_case and `my_var.mix()` stay", "snake_case and my_var.mix() stay", "snake_case and my_var.mix() stay"),
    ("12 * 7 = 84, and 3×4 is **12**", "12 * 7 = 84, and 3×4 is 12", "12 times 7 = 84, and 3 times 4 is 12"),
    ("call it with *args", "call it with *args", "call it with args"),
    ("the first half of **a phrase", "the first half of **a phrase", "the first half of a phrase"),
    (r"an escaped \*star\* and \_under\_", "an escaped *star* and _under_", "an escaped star and under"),
    ("a <b>tag</b> and\n  a newline", "a tag and a newline", "a tag and a newline"),
]  # fmt: skip


@pytest.mark.parametrize(("markdown", "on_screen", "spoken"), INLINE)
def test_inline_markup_goes_and_only_speech_drops_lone_marks(markdown: str, on_screen: str, spoken: str) -> None:
    assert plain_text(markdown, link_addresses=True) == on_screen
    assert speakable(markdown) == spoken


@pytest.mark.parametrize(
    ("text", "ended"),
    [
        ("Shopping list", "Shopping list."),
        ("costs O(n)", "costs O(n)."),
        ("You will need:", "You will need:"),
        ("Is it ready?", "Is it ready?"),
        ('She said "done."', 'She said "done."'),
        ("and then —", "and then —"),
        ("", ""),
    ],
)
def test_a_full_stop_is_added_only_where_no_sentence_or_clause_ends(text: str, ended: str) -> None:
    assert with_full_stop(text) == ended
