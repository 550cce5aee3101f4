"""Any local OpenAI-compatible server: mlx_lm.server, llama.cpp's server, LM Studio, vLLM.

Same wire protocol as OpenAI, but no API key, and the older ``max_tokens``
field that every one of these servers understands.
"""

from __future__ import annotations

from typing import ClassVar

from ..settings import MLXSettings
from ..types import Capabilities
from .openai import OpenAIProvider


class MLXProvider(OpenAIProvider):
    name: ClassVar[str] = "mlx"
    display_name: ClassVar[str] = "the OpenAI-compatible server"
    settings_class = MLXSettings
    capabilities = Capabilities(tools=True, vision=False, embeddings=True)
    requires_api_key: ClassVar[bool] = False
    connect_hint: ClassVar[str] = (
        "is the server running (e.g. `mlx_lm.server` or `python -m llama_cpp.server`)? "
        "check llm.mlx.base_url"
    )
    max_tokens_field: ClassVar[str] = "max_tokens"
