"""File injection: a text file's content put in front of the user's question.

A model can only read text; a binary file or a huge one would waste the
context window or confuse it, so both are refused with an error that says so.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MAX_FILE_BYTES = 100_000


class FileInjectionError(ValueError):
    """The file cannot be given to the model as text."""


def read_text_file(path: str | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileInjectionError(f"{path}: no such file") from None
    except OSError as exc:
        raise FileInjectionError(f"{path}: {exc.strerror}") from None
    if not path.is_file():
        raise FileInjectionError(f"{path}: not a regular file")
    if size > max_bytes:
        raise FileInjectionError(
            f"{path} is {size:,} bytes; files up to {max_bytes:,} bytes can be attached"
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise FileInjectionError(f"{path} looks binary; only text files can be attached")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileInjectionError(f"{path} is not UTF-8 text; only text files can be attached") from None


def with_file(question: str, path: str | Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """The question with the file's content before it, fenced so the model sees where it ends."""
    content = read_text_file(path, max_bytes)
    fence = "````" if "```" in content else "```"
    return f"Contents of {Path(path).name}:\n{fence}\n{content.rstrip()}\n{fence}\n\n{question}"
