"""The `wyoming:` section of config.yaml: where the Home Assistant server listens and what it offers."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator

from audio.settings import WAKE_WORD_MODELS

from ..settings import Section

Service = Literal["asr", "tts", "wake", "handle"]


class WyomingSettings(Section):
    """How ``assistant wyoming`` serves Home Assistant."""

    uri: str = Field(default="tcp://0.0.0.0:10300", description="where to listen: tcp://HOST:PORT")
    zeroconf: bool = Field(default=True, description="advertise the server as _wyoming._tcp for discovery")
    zeroconf_name: str = Field(default="rosey", min_length=1, description="the name Home Assistant shows")
    services: list[Service] = Field(
        default_factory=lambda: ["asr", "tts", "wake", "handle"], min_length=1, description="what the server offers"
    )
    wake_words: list[str] = Field(
        default_factory=lambda: ["okay_nabu"], min_length=1,
        description="the wake words listened for when a detect names none",
    )
    wake_threshold: float = Field(default=0.5, gt=0, lt=1, description="wake-word model score that counts as heard")
    persona: str = Field(default="default", description="the persona that answers Home Assistant")
    tools: list[str] = Field(default_factory=list, description="the only tools offered to the model")
    conversation_minutes: float = Field(default=30.0, gt=0, description="idle time after which a conversation ends")
    max_conversations: int = Field(default=100, ge=1, description="conversations kept at once; the oldest go first")
    max_payload_bytes: int = Field(default=1 << 20, ge=1024, description="largest event payload accepted")
    max_audio_seconds: float = Field(default=120.0, gt=0, description="longest recording one transcribe accepts")

    @field_validator("wake_words")
    @classmethod
    def _bundled_wake_words(cls, names: list[str]) -> list[str]:
        return [wake_model(name) for name in names]

    @field_validator("uri")
    @classmethod
    def _tcp_uri(cls, uri: str) -> str:
        tcp_address(uri)
        return uri


def tcp_address(uri: str) -> tuple[str, int]:
    """The host and port of ``tcp://HOST:PORT``; ``ValueError`` says how to write one."""
    parsed = urlparse(uri)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "tcp" or not parsed.hostname or port is None:
        raise ValueError(f"'{uri}' is not a TCP address; write it like tcp://0.0.0.0:10300")
    return parsed.hostname, port


WAKE_WORD_ALIASES = {"ok nabu": "okay_nabu"}
"""Names other wake-word servers give a bundled model (wyoming-openwakeword calls it ok_nabu)."""


def wake_model(name: str) -> str:
    """The bundled model ``name`` means, written as a model name (hey_jarvis), a phrase (hey jarvis) or with a
    version (hey_jarvis_v0.1); ``ValueError`` lists the ones there are."""
    key = re.sub(r"_v[0-9.]+$", "", name.strip().lower()).replace("_", " ").strip()
    for model, phrase in WAKE_WORD_MODELS.items():
        if key == phrase or key == model.replace("_", " "):
            return model
    if key in WAKE_WORD_ALIASES:
        return WAKE_WORD_ALIASES[key]
    raise ValueError(f"no wake word named '{name}'; this server has {', '.join(WAKE_WORD_MODELS)}")
