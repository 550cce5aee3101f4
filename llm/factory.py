"""Creating a provider from the parsed config.yaml.

Built-in backends are registered by import path and imported on first use,
so ``import llm`` never pulls in httpx-sse or llama.cpp.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import LLMProvider
from .errors import LLMInvalidRequestError
from .settings import canonical_backend

if TYPE_CHECKING:
    import httpx

_BUILT_IN: dict[str, str] = {
    "local": "llm.providers.local:LocalProvider",
    "ollama": "llm.providers.ollama:OllamaProvider",
    "mlx": "llm.providers.mlx:MLXProvider",
    "openai": "llm.providers.openai:OpenAIProvider",
    "openrouter": "llm.providers.openrouter:OpenRouterProvider",
    "anthropic": "llm.providers.anthropic:AnthropicProvider",
}


class ProviderFactory:
    """Turns a backend name and the parsed config.yaml into a provider ready to use.

    It owns the table of backend names (the built-in ones as import paths, and
    whatever ``register_provider`` adds) and finds each backend's section of
    the config, older names included. It never opens a connection, loads a
    model or keeps what it made: every call gives a new provider, and whoever
    asked for it closes it.
    """

    _registry: dict[str, str | type[LLMProvider]] = dict(_BUILT_IN)

    @classmethod
    def register_provider(cls, name: str, provider_class: type[LLMProvider]) -> None:
        if not (isinstance(provider_class, type) and issubclass(provider_class, LLMProvider)):
            raise TypeError(f"{provider_class!r} is not an LLMProvider subclass")
        cls._registry[name] = provider_class

    @classmethod
    def available_backends(cls) -> list[str]:
        return sorted(cls._registry)

    @classmethod
    def provider_class(cls, name: str) -> type[LLMProvider]:
        entry = cls._registry.get(canonical_backend(name))
        if entry is None:
            raise LLMInvalidRequestError(
                f"unknown LLM backend '{name}': choose one of {', '.join(cls.available_backends())}"
            )
        if isinstance(entry, str):
            module_name, class_name = entry.split(":")
            entry = getattr(importlib.import_module(module_name), class_name)
            cls._registry[canonical_backend(name)] = entry
        return entry

    @classmethod
    def create(
        cls, name: str, config: Mapping[str, Any] | None = None, *, client: "httpx.AsyncClient | None" = None
    ) -> LLMProvider:
        """The provider ``name``, configured from the section ``llm.<name>`` of ``config``."""
        provider_class = cls.provider_class(name)
        section = _section(config or {}, name)
        if client is not None:
            return provider_class(section, client=client)  # type: ignore[call-arg]
        return provider_class(section)

    @classmethod
    def create_from_config(
        cls, config: Mapping[str, Any], *, client: "httpx.AsyncClient | None" = None
    ) -> LLMProvider:
        """The provider named by ``llm.backend`` (``local`` when unset)."""
        llm_config = config.get("llm") or {}
        return cls.create(llm_config.get("backend") or "local", config, client=client)


def _section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The backend's section; an alias's own section (``local_gpt_oss:``) wins over the canonical one."""
    llm_config = config.get("llm") or {}
    section = llm_config.get(name)
    if section is None:
        section = llm_config.get(canonical_backend(name))
    return dict(section or {})
