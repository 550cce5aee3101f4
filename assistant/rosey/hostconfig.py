"""Rosey's own plugin config dict, read onto our settings, so Rosey can load us in place of its LLM plugin.

Rosey constructs a plugin as ``LLMPlugin(nc, config)`` with the dict of the
plugin's ``config.json``::

    {"name": "llm", "enabled": true, "default_provider": "ollama",
     "providers": {"ollama": {"base_url": ..., "timeout": 60, "default_model": "llama3.2"},
                   "openai": {"api_key": "sk-...", "base_url": ..., "organization": ""}},
     "service": {"max_context_messages": 10, "default_persona": "default"},
     "rate_limits": {"requests_per_minute": 10, ...}}

Each key becomes a dotted override of the loaded config.yaml. A key we can
do without is logged and ignored; a value we cannot use is a `ConfigError`
that names the key as Rosey wrote it. Keys of our own ``rosey:`` section may
sit beside Rosey's ones.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from llm.settings import BACKEND_ALIASES, BACKEND_SETTINGS

from ..config import Config, ConfigError, load_config
from ..rosey_settings import RateLimitSettings, RoseySettings

log = logging.getLogger("assistant.rosey")

HOST_ONLY_KEYS = frozenset({"name", "default_provider", "providers", "service", "max_context"})
"""Keys only Rosey's shape has: a dict with any of them is Rosey's plugin config."""

_PROVIDER_KEYS = {"base_url": "base_url", "timeout": "timeout", "default_model": "model", "model": "model",
                  "max_tokens": "max_tokens", "temperature": "temperature", "max_retries": "max_retries"}
_SAFE_TO_IGNORE_WHEN_EMPTY = frozenset({"organization"})
_API_KEY_ENV = "ROSEY_LLM_{}_API_KEY"


def is_host_config(config: Mapping[str, Any]) -> bool:
    return bool(HOST_ONLY_KEYS & set(config))


def config_from_host(config: Mapping[str, Any]) -> Config:
    """Our whole `Config`: config.yaml (or the defaults) with Rosey's plugin config on top."""
    overrides: dict[str, Any] = {}
    named: dict[str, str] = {}

    def put(ours: str, value: Any, theirs: str) -> None:
        overrides[ours] = value
        named[ours] = theirs

    for key, value in config.items():
        if key == "name":
            put("rosey.plugin_name", value, "name")
        elif key == "enabled":
            put("rosey.enabled", value, "enabled")
        elif key == "default_provider":
            put("llm.backend", _backend(value), "default_provider")
        elif key == "providers":
            _providers(value, put)
        elif key == "service":
            _service(value, put)
        elif key == "max_context":
            put("rosey.max_turns", _turns(value, "max_context"), "max_context")
        elif key == "rate_limits":
            _rate_limits(value, put)
        elif key in RoseySettings.model_fields:
            put(f"rosey.{key}", value, key)
        else:
            log.warning("plugin config: '%s' is not used by this plugin; ignored", key)
    try:
        return load_config(overrides=overrides)
    except ConfigError as exc:
        message = str(exc)
        for ours, theirs in sorted(named.items(), key=lambda item: -len(item[0])):
            message = message.replace(ours, theirs)
        raise ConfigError(f"LLMPlugin configuration: {message}") from None


def _backend(name: Any) -> str:
    known = sorted(BACKEND_SETTINGS) + sorted(BACKEND_ALIASES)
    if name not in known:
        raise ConfigError(f"LLMPlugin configuration: default_provider {name!r} is not a backend of this plugin; "
                          f"choose one of {', '.join(known)}")
    return str(name)


def _providers(providers: Any, put: Any) -> None:
    if not isinstance(providers, Mapping):
        raise ConfigError("LLMPlugin configuration: 'providers' must be a mapping of provider name to settings")
    for name, section in providers.items():
        where = f"providers.{name}"
        if name not in BACKEND_SETTINGS and name not in BACKEND_ALIASES:
            log.warning("plugin config: %s is not a backend of this plugin; ignored", where)
            continue
        if not isinstance(section, Mapping):
            raise ConfigError(f"LLMPlugin configuration: '{where}' must be a mapping of settings")
        for key, value in section.items():
            if key in _PROVIDER_KEYS:
                put(f"llm.{name}.{_PROVIDER_KEYS[key]}", value, f"{where}.{key}")
            elif key == "api_key":
                if value:
                    put(f"llm.{name}.api_key_env", _hold_api_key(name, value, where), f"{where}.api_key")
            elif key in _SAFE_TO_IGNORE_WHEN_EMPTY and not value:
                continue
            else:
                log.warning("plugin config: %s.%s is not used by this plugin; ignored", where, key)


def _hold_api_key(provider: str, key: Any, where: str) -> str:
    """Put an API key where our providers read keys (the environment), and name the variable.

    Providers never hold a key in their settings, so they cannot leak it with them; the key
    stays in this process and the plugin removes it from every log line and message.
    """
    if not isinstance(key, str):
        raise ConfigError(f"LLMPlugin configuration: '{where}.api_key' must be a string")
    variable = _API_KEY_ENV.format(provider.upper())
    os.environ[variable] = key.strip()
    return variable


def _service(service: Any, put: Any) -> None:
    if not isinstance(service, Mapping):
        raise ConfigError("LLMPlugin configuration: 'service' must be a mapping")
    for key, value in service.items():
        if key == "max_context_messages":
            put("rosey.max_turns", _turns(value, "service.max_context_messages"), "service.max_context_messages")
        elif key == "default_persona":
            put("rosey.default_persona", value, "service.default_persona")
        else:
            log.warning("plugin config: service.%s is not used by this plugin; ignored", key)


def _turns(messages: Any, where: str) -> int:
    """Rosey counts context in messages (a question and its answer are two); we keep whole exchanges."""
    if isinstance(messages, bool) or not isinstance(messages, int) or messages < 1:
        raise ConfigError(f"LLMPlugin configuration: '{where}' must be a whole number of messages, at least 1")
    return max(2, math.ceil(messages / 2))


def _rate_limits(limits: Any, put: Any) -> None:
    if not isinstance(limits, Mapping):
        raise ConfigError("LLMPlugin configuration: 'rate_limits' must be a mapping")
    for key, value in limits.items():
        if key in RateLimitSettings.model_fields:
            put(f"rosey.rate_limits.{key}", value, f"rate_limits.{key}")
        else:
            log.warning("plugin config: rate_limits.%s is not a limit of this plugin; ignored", key)
