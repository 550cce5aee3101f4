"""File injection: a text file's content goes in front of the question."""

from pathlib import Path

import pytest

from llm import FileInjectionError, with_file


def test_text_file_is_fenced_before_the_question(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("milk\neggs\n")

    prompt = with_file("What should I buy?", notes)

    assert prompt.startswith("Contents of notes.txt:\n```\nmilk\neggs\n```")
    assert prompt.endswith("What should I buy?")


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
