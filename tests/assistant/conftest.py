"""Fixtures shared by the tests of the assistant's parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.tools import ToolBox, ToolSettings, builtin_tools


@pytest.fixture
def builtins(tmp_path: Path) -> ToolBox:
    """The built-in tools with notes in ``tmp_path/data`` and ``tmp_path/shared`` readable by read_file."""
    shared = tmp_path / "shared"
    shared.mkdir(exist_ok=True)
    return ToolBox(builtin_tools(ToolSettings(read_file_dirs=[shared]), tmp_path / "data"))
