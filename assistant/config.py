"""Loading and validating config.yaml.

Where the file comes from, first match wins: ``--config PATH``, then
``$ASSISTANT_CONFIG``, then ``config.yaml`` in the user config directory,
then the documented default at the top of the repository. Everything is
validated into typed models, so a misspelt key or a wrong type stops the
program at once with the key and the file named, instead of being ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from audio.settings import AudioSettings
from llm.settings import (
    BACKEND_ALIASES,
    BACKEND_SETTINGS,
    AnthropicSettings,
    LocalSettings,
    MLXSettings,
    OllamaSettings,
    OpenAISettings,
    OpenRouterSettings,
)

from .personas import VOICE_PROMPT, PersonaBook, PersonaSettings, UnknownPersonaError
from .rosey_settings import RoseySettings
from .settings import Section
from .tools.settings import MCPServerSettings, ToolSettings
from .tui.settings import TUISettings
from .voice.settings import VoiceSettings
from .wyoming.settings import WyomingSettings

APP_NAME = "rosey-assistant"
REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: 5 ms for config.yaml, 39 in Python


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, the key and the fix."""


class LLMConfig(Section):
    """The `llm:` section: which backend answers, and each backend's own settings."""

    backend: str = "local"
    local: LocalSettings = Field(default_factory=LocalSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    mlx: MLXSettings = Field(default_factory=MLXSettings)
    local_gpt_oss: MLXSettings | None = None
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    openrouter: OpenRouterSettings = Field(default_factory=OpenRouterSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        known = sorted(BACKEND_SETTINGS) + sorted(BACKEND_ALIASES)
        if name not in known:
            raise ValueError(f"unknown backend '{name}'; choose one of {', '.join(known)}")
        return name


class AssistantConfig(Section):
    """The `assistant:` section: the prompt, personas, conversation length and tools."""

    system_prompt: str = VOICE_PROMPT
    persona: str = "default"
    personas: list[PersonaSettings] = Field(default_factory=list)
    max_turns: int = Field(default=10, ge=1, description="turns of conversation sent to the model")
    max_tool_rounds: int = Field(default=5, ge=0, description="tool-call rounds per turn before the model must answer")
    tools: ToolSettings = Field(default_factory=ToolSettings)
    mcp_servers: list[MCPServerSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_persona(self) -> AssistantConfig:
        try:
            PersonaBook(self.personas).get(self.persona)
        except UnknownPersonaError as exc:
            raise ValueError(f"persona: {exc}") from None
        return self


class Config(Section):
    """The whole of config.yaml, validated: every section of every part of the program."""

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    llm: LLMConfig = Field(default_factory=LLMConfig)
    assistant: AssistantConfig = Field(default_factory=AssistantConfig)
    rosey: RoseySettings = Field(default_factory=RoseySettings)
    tui: TUISettings = Field(default_factory=TUISettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    wyoming: WyomingSettings = Field(default_factory=WyomingSettings)

    source: Path | None = Field(default=None, exclude=True)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _default_data_dir(cls, value: Any) -> Any:
        return Path(platformdirs.user_data_dir(APP_NAME)) if value in (None, "") else value

    def audio_settings(self) -> AudioSettings:
        """The audio settings with the model cache in the data directory unless set."""
        return self.audio.model_copy(update={"cache_dir": self.audio.cache_dir or self.data_dir / "models"})

    def provider_config(self) -> dict[str, Any]:
        """The parsed config as the plain dict ``ProviderFactory.create_from_config`` takes."""
        raw = self.model_dump(mode="python", exclude_none=True)
        raw["llm"]["local"].setdefault("cache_dir", self.data_dir / "models")
        return raw


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The file to load, by the order in the module docstring; None means built-in defaults."""
    if explicit:
        return Path(explicit).expanduser()
    if env := os.environ.get("ASSISTANT_CONFIG"):
        return Path(env).expanduser()
    user_file = Path(platformdirs.user_config_dir(APP_NAME)) / "config.yaml"
    if user_file.is_file():
        return user_file
    return REPO_CONFIG if REPO_CONFIG.is_file() else None


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Load, apply ``overrides`` (dotted keys, e.g. ``{"llm.backend": "ollama"}``), validate."""
    source = config_path(path)
    raw = _read_yaml(source) if source else {}
    for dotted_key, value in {**_environment_overrides(), **(overrides or {})}.items():
        set_dotted(raw, dotted_key, value)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    config.source = source
    return config


def set_dotted(raw: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating the sections on the way."""
    *sections, key = dotted_key.split(".")
    node = raw
    for section in sections:
        child = node.get(section)
        if not isinstance(child, dict):
            child = node[section] = {}
        node = child
    node[key] = value


def _environment_overrides() -> dict[str, Any]:
    names = {
        "ASSISTANT_BACKEND": "llm.backend",
        "ASSISTANT_DATA_DIR": "data_dir",
    }
    return {key: os.environ[env] for env, key in names.items() if os.environ.get(env)}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist: check --config or $ASSISTANT_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (llm:, assistant:, ...)")
    return data


def _describe(exc: ValidationError, source: Path | None) -> str:
    where = str(source) if source else "the built-in configuration"
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key (misspelt? see the documented config.yaml)")
        else:
            problems.append(f"{key}: {error['msg']} (got {error.get('input')!r})")
    return f"{where}: " + "; ".join(problems)
