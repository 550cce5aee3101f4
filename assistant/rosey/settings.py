"""Settings of the Rosey chat-bot plugin: the `rosey:` section of config.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RoseySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nats_url: str = "nats://127.0.0.1:4222"
