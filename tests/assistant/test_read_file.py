"""The read_file tool: text files in the folders the user shared, and nothing outside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.tools import ToolBox, ToolResult, ToolSettings, builtin_tools
from tests.assistant.tool_helpers import call

# --- read_file ------------------------------------------------------------------------------------------


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    (folder / "recipes").mkdir(parents=True)
    (folder / "recipes" / "soup.md").write_text("# Soup\nBoil water.\n")
    (tmp_path / "secret.txt").write_text("the launch codes")
    return folder


async def test_read_file_reads_a_text_file_by_absolute_or_relative_path(builtins: ToolBox, shared: Path) -> None:
    assert await call(builtins, "read_file", path=str(shared / "recipes/soup.md")) == ToolResult("# Soup\nBoil water.\n")
    assert await call(builtins, "read_file", path="recipes/soup.md") == ToolResult("# Soup\nBoil water.\n")


async def test_read_file_reads_in_every_shared_folder(tmp_path: Path, shared: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "todo.txt").write_text("buy milk")
    box = ToolBox(builtin_tools(ToolSettings(read_file_dirs=[shared, other]), tmp_path))

    assert await call(box, "read_file", path=str(other / "todo.txt")) == ToolResult("buy milk")
    assert str(other) in box.definitions()[-1].description


async def test_read_file_lists_a_folder(builtins: ToolBox, shared: Path) -> None:
    (shared / "notes.txt").write_text("")

    assert await call(builtins, "read_file", path=".") == ToolResult(f"{shared} is a folder containing: notes.txt, recipes/")


@pytest.mark.parametrize("path", ["../secret.txt", "recipes/../../secret.txt", "{tmp}/secret.txt", "/etc/hostname"])
async def test_read_file_refuses_paths_outside_the_shared_folders(
    builtins: ToolBox, shared: Path, tmp_path: Path, path: str
) -> None:
    result = await call(builtins, "read_file", path=path.format(tmp=tmp_path))

    assert result.is_error
    assert "is outside the folders you may read" in result.content
    assert "launch codes" not in result.content


async def test_read_file_refuses_a_symlink_that_leads_outside(builtins: ToolBox, shared: Path, tmp_path: Path) -> None:
    (shared / "innocent.txt").symlink_to(tmp_path / "secret.txt")

    result = await call(builtins, "read_file", path="innocent.txt")

    assert result.is_error
    assert "outside the folders you may read" in result.content


@pytest.mark.parametrize(
    ("name", "content", "explanation"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a binary file; read_file reads text files only"),
        ("latin1.txt", "café".encode("latin-1"), "is not UTF-8 text; read_file reads text files only"),
        ("huge.log", b"x" * 1_000_001, "is 1,000,001 bytes; read_file reads files up to 1,000,000 bytes"),
    ],
)
async def test_read_file_refuses_what_is_not_readable_text(
    builtins: ToolBox, shared: Path, name: str, content: bytes, explanation: str
) -> None:
    (shared / name).write_bytes(content)

    result = await call(builtins, "read_file", path=name)

    assert result == ToolResult(f"read_file failed: {name} {explanation}", is_error=True)


async def test_read_file_says_when_there_is_no_such_file(builtins: ToolBox, shared: Path) -> None:
    assert await call(builtins, "read_file", path="nope.txt") == ToolResult(
        "read_file failed: nope.txt: no such file", is_error=True
    )
