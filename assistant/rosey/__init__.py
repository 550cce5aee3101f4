"""Rosey's LLM plugin: the assistant on the Rosey chat bot's NATS bus (see ROSEY_PROTOCOL.md).

    from assistant.rosey import LLMPlugin
    plugin = LLMPlugin(nats_client, config)
    await plugin.start(); ...; await plugin.stop()

``assistant/config.py`` imports ``assistant.rosey.settings`` on every start, so
this package imports nothing heavy itself: `LLMPlugin` (NATS, the providers)
is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .plugin import LLMPlugin

__all__ = ["LLMPlugin"]


def __getattr__(name: str) -> Any:
    if name == "LLMPlugin":
        from .plugin import LLMPlugin

        return LLMPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
