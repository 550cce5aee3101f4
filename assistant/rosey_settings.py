"""Settings of the Rosey chat-bot plugin: the `rosey:` section of config.yaml.

It lives beside ``config.py`` rather than in ``assistant/rosey/``: config.py
reads it on every start, and importing anything inside ``assistant/rosey/``
runs that package, which loads the plugin, which needs the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from .personas import PersonaBook, PersonaSettings, UnknownPersonaError
from .settings import Section


class TLSSettings(Section):
    """Files for a NATS server that wants TLS; all paths, all optional."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class RateLimitSettings(Section):
    """How much the room may ask of the backend. 0 switches a limit off."""

    requests_per_minute: int = Field(default=10, ge=0, description="per user")
    requests_per_hour: int = Field(default=100, ge=0, description="per user")
    requests_per_day: int = Field(default=500, ge=0, description="per user, UTC day")
    channel_requests_per_hour: int = Field(default=300, ge=0, description="per channel")
    tokens_per_day: int = Field(default=50000, ge=0, description="all users together, UTC day")


class MemorySettings(Section):
    """Where conversations, personas, memories and usage are kept."""

    backend: Literal["sqlite", "jetstream"] = "sqlite"
    path: Path | None = Field(default=None, description="SQLite file; empty = <data_dir>/rosey.sqlite3")
    bucket: str = Field(default="rosey-llm", pattern=r"^[-_a-zA-Z0-9]+$", description="JetStream KV bucket")
    recall_limit: int = Field(default=5, ge=1, le=50, description="memories a recall answers with")
    context_memories: int = Field(default=3, ge=0, le=20, description="memories shown to the model per turn")


class RoseySettings(Section):
    enabled: bool = Field(default=True, description="false: the plugin starts without serving anything")
    plugin_name: str = Field(
        default="llm", pattern=r"^[-_a-zA-Z0-9]+$",
        description="Rosey's name for the plugin: its router delivers to rosey.plugins.<plugin_name>.message",
    )
    chat_prefix: str = Field(
        default="!chat", min_length=1, description="room lines starting with this are commands to the bot"
    )
    nats_url: str = "nats://127.0.0.1:4222"
    user: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    creds_file: Path | None = None
    tls: TLSSettings | None = None

    max_message_chars: int = Field(default=240, ge=20, description="longest chat line sent to CyTube")
    max_messages: int = Field(default=4, ge=1, description="most chat lines per answer")
    max_concurrent: int = Field(default=4, ge=1, description="requests to the backend at once")
    max_request_bytes: int = Field(default=65536, ge=256, description="largest payload accepted")
    request_timeout: float = Field(default=60.0, gt=0, description="seconds until a request is answered")
    max_turns: int | None = Field(default=None, ge=2, description="turns kept per channel; empty = assistant.max_turns")

    default_persona: str = "default"
    personas: list[PersonaSettings] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list, description="the only tools offered to the model in bot mode")

    memory: MemorySettings = Field(default_factory=MemorySettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, url: str) -> str:
        for one in url.split(","):
            if not one.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                raise ValueError(f"'{one.strip()}' is not a NATS URL; write it like nats://127.0.0.1:4222")
        return url

    @model_validator(mode="after")
    def _known_default_persona(self) -> RoseySettings:
        try:
            PersonaBook(self.personas).get(self.default_persona)
        except UnknownPersonaError as exc:
            raise ValueError(f"default_persona: {exc}") from None
        return self
