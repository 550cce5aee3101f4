"""Typed settings of each backend: the section ``llm.<backend>`` of config.yaml.

They live apart from the provider modules so that validating a config file
never imports httpx or llama.cpp. Unknown keys are errors: a misspelt
``temprature`` would otherwise be ignored without a word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class BackendSettings(BaseModel):
    """Keys every backend understands."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = ""
    model: str = ""
    timeout: float = Field(default=120.0, gt=0, description="seconds")
    max_tokens: int = Field(default=1024, gt=0)
    temperature: float | None = Field(default=0.7, ge=0, le=2)
    api_key_env: str | None = None
    max_retries: int = Field(default=3, ge=0, description="retries after the first attempt")
    retry_backoff: float = Field(default=1.0, ge=0, description="first delay in seconds, doubling")


class LocalSettings(BackendSettings):
    """The embedded llama.cpp model."""

    model: str = "gemma-3-270m"
    model_path: Path | None = None
    cache_dir: Path | None = Field(default=None, description="where the bundled model is assembled")
    n_ctx: int = Field(default=2048, gt=0)
    n_threads: int | None = Field(default=None, gt=0)
    max_tokens: int = Field(default=256, gt=0)
    temperature: float | None = Field(default=0.2, ge=0, le=2)
    max_retries: int = Field(default=0, ge=0, description="a local model does not recover by being asked again")
    history_turns: int | None = Field(
        default=0, ge=0, description="earlier exchanges shown to the model; empty = all that fit"
    )
    user_name: str = "User"
    assistant_name: str = "Rosey"


class OllamaSettings(BackendSettings):
    base_url: str = "http://localhost:11434"
    model: str = "llama3.2"
    embed_model: str | None = None
    keep_alive: str | int | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    think: bool | Literal["low", "medium", "high"] | None = None

    @field_validator("base_url")
    @classmethod
    def _strip_openai_compat_path(cls, url: str) -> str:
        """Ollama's OpenAI-compatible URL ends in /v1; the native API this backend speaks does not."""
        url = url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url

    @field_validator("options")
    @classmethod
    def _no_duplicated_keys(cls, options: dict[str, Any]) -> dict[str, Any]:
        moved = {"temperature": "llm.ollama.temperature", "num_predict": "llm.ollama.max_tokens"}
        for key, home in moved.items():
            if key in options:
                raise ValueError(f"set {key} as {home}, not inside options")
        return options


class OpenAISettings(BackendSettings):
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str | None = "OPENAI_API_KEY"
    embed_model: str | None = "text-embedding-3-small"


class MLXSettings(BackendSettings):
    """Any OpenAI-compatible local server: mlx_lm.server, llama.cpp server, LM Studio, vLLM."""

    base_url: str = "http://localhost:8080/v1"
    model: str = "default"
    embed_model: str | None = None

    @field_validator("base_url")
    @classmethod
    def _append_v1_to_bare_host(cls, url: str) -> str:
        """A bare server address such as ``http://localhost:8080`` gets ``/v1``: these servers answer under it."""
        url = url.rstrip("/")
        if urlsplit(url).path in ("", "/"):
            return url + "/v1"
        return url


class OpenRouterSettings(BackendSettings):
    base_url: str = "https://openrouter.ai/api/v1"
    model: str = "openai/gpt-4o-mini"
    api_key_env: str | None = "OPENROUTER_API_KEY"
    site_url: str | None = None
    site_name: str | None = "Rosey Assistant"
    embed_model: str | None = None


class AnthropicSettings(BackendSettings):
    base_url: str = "https://api.anthropic.com"
    model: str = "claude-sonnet-4-5"
    api_key_env: str | None = "ANTHROPIC_API_KEY"
    api_version: str = "2023-06-01"
    thinking_budget: int | None = Field(
        default=None, ge=1024, description="tokens of extended thinking; off when unset"
    )


BACKEND_SETTINGS: dict[str, type[BackendSettings]] = {
    "local": LocalSettings,
    "ollama": OllamaSettings,
    "mlx": MLXSettings,
    "openai": OpenAISettings,
    "openrouter": OpenRouterSettings,
    "anthropic": AnthropicSettings,
}

BACKEND_ALIASES: dict[str, str] = {"local_gpt_oss": "mlx"}
"""Other names accepted for a backend in config files: ``local_gpt_oss`` is the older name of ``mlx``."""


def canonical_backend(name: str) -> str:
    return BACKEND_ALIASES.get(name, name)
