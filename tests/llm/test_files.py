"""File injection: a text file's content goes in front of the question."""

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from llm import FileInjectionError, fenced_code, with_file


def test_text_file_is_fenced_before_the_question(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("milk\neggs\n")

    prompt = with_file("What should I buy?", notes)

    assert prompt.startswith("Contents of notes.txt:\n```\nmilk\neggs\n```")
    assert prompt.endswith("What should I buy?")


@pytest.mark.parametrize(
    "content",
    [
        "Use ```python fences``` like this.\n",
        "# README\n```\npip install rosey\n```\n",
        "Nested:\n````\n```\nx\n```\n````\n",
        "A five-backtick line:\n`````\nstill inside\n",
    ],
    ids=["three inline", "a fenced block", "a four-backtick fence", "five backticks"],
)
def test_a_file_holding_fences_is_still_one_code_block_up_to_its_end(tmp_path: Path, content: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(content)

    prompt = with_file("What does it say?", readme)

    blocks = [token for token in MarkdownIt().parse(prompt) if token.type == "fence"]
    assert [block.content for block in blocks] == [content]
    assert prompt.endswith("\n\nWhat does it say?")


def test_a_fence_names_its_language_and_is_longer_than_any_backtick_run_inside() -> None:
    assert fenced_code('{"a": 1}', "json") == '```json\n{"a": 1}\n```'
    assert fenced_code("a ````` b") == "``````\na ````` b\n``````"


def test_binary_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    blob = tmp_path / "image.bin"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")

    with pytest.raises(FileInjectionError, match="binary"):
        with_file("what is this?", blob)


def test_oversized_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 2000)

    with pytest.raises(FileInjectionError, match="up to 1,000 bytes"):
        with_file("summarise", big, max_bytes=1000)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileInjectionError, match="no such file"):
        with_file("?", tmp_path / "nope.txt")
