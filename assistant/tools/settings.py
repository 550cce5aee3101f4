"""The tool sections of config.yaml: ``assistant.tools`` and ``assistant.mcp_servers``."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator

from ..settings import Section


class ToolSettings(Section):
    """The section ``assistant.tools`` of config.yaml."""

    datetime: bool = True
    calculator: bool = True
    memory: bool = Field(default=True, description="remember + recall")
    read_file: bool = Field(default=True, description="offered only when read_file_dirs is not empty")
    read_file_dirs: list[Path] = Field(default_factory=list)
    timeout: float = Field(default=30.0, gt=0, description="seconds one tool call may take")
    max_result_chars: int = Field(default=16_000, gt=0)

    @field_validator("read_file_dirs")
    @classmethod
    def _expand_home(cls, dirs: list[Path]) -> list[Path]:
        return [folder.expanduser() for folder in dirs]


class MCPServerSettings(Section):
    """One item of ``assistant.mcp_servers`` in config.yaml."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="shown beside its tools; letters, digits, - and _")
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(
        default_factory=dict,
        description="added to HOME, PATH, SHELL, TERM, USER, LOGNAME; ${VAR} takes VAR from our environment",
    )
    startup_timeout: float = Field(default=15.0, gt=0, description="seconds to start and list its tools")

    @field_validator("env")
    @classmethod
    def _expand_variables(cls, env: dict[str, str]) -> dict[str, str]:
        """Lets a secret stay in the environment rather than in config.yaml: ``TOKEN: ${GITHUB_TOKEN}``."""
        return {key: os.path.expandvars(value) for key, value in env.items()}
