"""OpenRouter: OpenAI Chat Completions plus its attribution headers."""

from __future__ import annotations

from typing import ClassVar

from ..settings import OpenRouterSettings
from ..types import Capabilities
from .openai import OpenAIProvider


class OpenRouterProvider(OpenAIProvider):
    name: ClassVar[str] = "openrouter"
    display_name: ClassVar[str] = "OpenRouter"
    settings_class = OpenRouterSettings
    capabilities = Capabilities(tools=True, vision=True, embeddings=True)
    connect_hint: ClassVar[str] = "check your network connection and llm.openrouter.base_url"
    max_tokens_field: ClassVar[str] = "max_tokens"

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.settings.site_url:
            headers["HTTP-Referer"] = self.settings.site_url
        if self.settings.site_name:
            headers["X-Title"] = self.settings.site_name
        return headers
