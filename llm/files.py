"""File injection: a text file's content put in front of the user's question.

A model can only read text; a binary file or a huge one would waste the
context window or confuse it, so both are refused with an error that says so.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_MAX_FILE_BYTES = 100_000


class FileInjectionError(ValueError):
    """The file cannot be given to the model as text.

    ``reason`` says why in one word (``missing``, ``unreadable``, ``not_a_file``,
    ``too_large``, ``binary``, ``not_utf8``), for a caller that words the
    message its own way, as the ``read_file`` tool does for the model.
    """

    def __init__(self, message: str, reason: str, size: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.size = size


def read_text_file(path: str | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """The file's text; refuses what a model cannot read as text (see ``FileInjectionError.reason``)."""
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileInjectionError(f"{path}: no such file", "missing") from None
    except OSError as exc:
        raise FileInjectionError(f"{path}: {exc.strerror}", "unreadable") from None
    if not path.is_file():
        raise FileInjectionError(f"{path}: not a regular file", "not_a_file")
    if size > max_bytes:
        raise FileInjectionError(
            f"{path} is {size:,} bytes; files up to {max_bytes:,} bytes can be attached", "too_large", size
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise FileInjectionError(f"{path} looks binary; only text files can be attached", "binary", size)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileInjectionError(
            f"{path} is not UTF-8 text; only text files can be attached", "not_utf8", size
        ) from None


def with_file(question: str, path: str | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """The question with the file's content before it, fenced so the model sees where it ends."""
    content = read_text_file(path, max_bytes)
    return f"Contents of {Path(path).name}:\n{fenced_code(content.rstrip())}\n\n{question}"


def fenced_code(text: str, language: str = "") -> str:
    """``text`` as a Markdown code block whose fence is longer than any backtick run inside.

    Text holding a fence of its own (a README, a saved answer) then cannot
    close the block early and spill the rest out as Markdown.
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"
