"""Rosey's LLM plugin: the assistant on the Rosey chat bot's NATS bus.

    from assistant.rosey import LLMPlugin
    plugin = LLMPlugin(nats_client, config)
    await plugin.start(); ...; await plugin.stop()

Its settings (the `rosey:` section) are in ``assistant/rosey_settings.py``.
"""

from .plugin import LLMPlugin

__all__ = ["LLMPlugin"]
