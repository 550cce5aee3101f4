"""`LLMPlugin`: the whole plugin on a connected NATS client, as Rosey loads its plugins.

    plugin = LLMPlugin(nats_client, config)   # Config, a config.yaml dict, its rosey: section,
                                              # or Rosey's own plugin config dict (hostconfig.py)
    await plugin.start()
    ...
    await plugin.stop()    # stops taking requests, lets the ones in flight answer, saves state

The plugin never connects or closes the NATS client: whoever passed it in
owns it (``runner.py`` does, for ``assistant bot``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any, Self

from nats.errors import Error as NatsError
from pydantic import ValidationError

from llm import LLMProvider, ProviderFactory
from llm.settings import canonical_backend

from ..config import Config, ConfigError, load_config
from ..rosey_settings import RoseySettings
from ..tools import build_toolbox
from .bus import Bus, InFlight, SecretFilter
from .commands import CommandHandlers
from .endpoints import Endpoints
from .envelopes import RoomRouting
from .hostconfig import config_from_host, is_host_config
from .llmservice import LLMService
from .store import SqliteStore, Store

log = logging.getLogger("assistant.rosey")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_TOP_LEVEL_KEYS = set(Config.model_fields)


def resolve_config(config: Config | Mapping[str, Any] | None) -> Config:
    """A `Config` from what a host passed: a Config, a whole config.yaml dict, a `rosey:` section,
    Rosey's own plugin config dict, or nothing."""
    if isinstance(config, Config):
        return config
    if config is None:
        return load_config()
    if is_host_config(config):
        return config_from_host(config)
    try:
        if _TOP_LEVEL_KEYS & set(config):
            return Config.model_validate(dict(config))
        return load_config().model_copy(update={"rosey": RoseySettings.model_validate(dict(config))})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"LLMPlugin configuration: {problems}") from None


class LLMPlugin:
    """The whole plugin on a NATS client someone else connected: start, serve, stop.

    It owns the provider, the store and the toolbox it made (not ones passed in)
    and the subscriptions it took; it never connects or closes the NATS client.
    """

    NAME = "llm"
    VERSION = "1.0.0"
    DESCRIPTION = "AI chat for the room and an LLM service for other plugins"

    def __init__(
        self,
        nats_client: Any,
        config: Config | Mapping[str, Any] | None = None,
        *,
        provider: LLMProvider | None = None,
        store: Store | None = None,
    ) -> None:
        self.nc = nats_client
        self.config = resolve_config(config)
        self.settings = self.config.rosey
        self._given_provider = provider
        self._given_store = store
        self.service: LLMService | None = None
        self._inflight = InFlight()
        self._subscriptions: list[Any] = []
        self._endpoints: Endpoints | None = None
        self._toolbox: Any = None
        self._provider: LLMProvider | None = None
        self._store: Store | None = None
        self._redactor: SecretFilter | None = None

    @property
    def in_flight(self) -> int:
        """Requests being served right now."""
        return len(self._inflight)

    @property
    def running(self) -> bool:
        return self.service is not None

    async def start(self) -> None:
        if self.running:
            return
        if not self.settings.enabled:
            log.info("Rosey LLM plugin not started: it is switched off (enabled: false)")
            return
        secrets = self.secrets()
        self._redactor = SecretFilter(secrets)
        log.addFilter(self._redactor)
        self._provider = self._given_provider or ProviderFactory.create_from_config(self.config.provider_config())
        try:
            await self._provider.prepare()
            self._store = self._given_store or self._new_store()
            await self._store.open()
            tools = await self._tools()
            bus = Bus(self.nc, [*secrets, *self.prompt_sentences()])
            self.service = service = LLMService(
                self._provider, self._store, self.settings, max_turns=self._max_turns(),
                publish=bus.publish, spawn=self._inflight.spawn, tools=tools,
            )
            await service.load_usage()
            commands = CommandHandlers(service, bus, self._inflight)
            self._subscriptions = await commands.subscribe()
            self._subscriptions += await RoomRouting(commands).subscribe()
            self._endpoints = Endpoints(service, bus, self._inflight)
            await self._endpoints.start()
            await self._endpoints.confirm_listening()
        except BaseException:
            await self._stop_listening()
            await self._release()
            raise
        log.info(
            "Rosey LLM plugin serving: backend %s, model %s, memory in %s, %d requests at once",
            self._provider.name, self._provider.model, self._store_description(), self.settings.max_concurrent,
        )

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop taking requests, let those in flight answer (up to ``drain_timeout`` s), save state."""
        if not self.running:
            return
        await self._stop_listening()
        timeout = self.settings.request_timeout + 5 if drain_timeout is None else drain_timeout
        if self.in_flight:
            log.info("waiting for %d request(s) in flight", self.in_flight)
        if not await self._inflight.wait(timeout):
            log.warning("%d request(s) still running after %g s: answering them that the bot is stopping",
                        self.in_flight, timeout)
            await self._inflight.cancel_all()
        await self._release()
        log.info("Rosey LLM plugin stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _stop_listening(self) -> None:
        for subscription in self._subscriptions:
            try:
                await subscription.drain()
            except (NatsError, OSError) as exc:
                log.warning("could not drain a subscription: %s", exc or type(exc).__name__)
        self._subscriptions = []
        if self._endpoints is not None:
            try:
                await self._endpoints.stop()
            except (NatsError, OSError) as exc:
                log.warning("could not stop the rosey-llm service cleanly: %s", exc or type(exc).__name__)
            self._endpoints = None

    async def _release(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            await service.flush()
        if self._toolbox is not None:
            await self._toolbox.aclose()
            self._toolbox = None
        if self._store is not None and self._given_store is None:
            await self._store.close()
        if self._provider is not None and self._given_provider is None:
            await self._provider.close()
        if self._redactor is not None:
            log.removeFilter(self._redactor)

    def _new_store(self) -> Store:
        memory = self.settings.memory
        if memory.backend == "jetstream":
            from .kvstore import JetStreamStore

            return JetStreamStore(self.nc, memory.bucket)
        return SqliteStore(memory.path or self.config.data_dir / "rosey.sqlite3")

    def _store_description(self) -> str:
        memory = self.settings.memory
        if memory.backend == "jetstream":
            return f"JetStream KV bucket {memory.bucket}"
        return str(memory.path or self.config.data_dir / "rosey.sqlite3")

    def _max_turns(self) -> int:
        return self.settings.max_turns or max(2, self.config.assistant.max_turns)

    async def _tools(self) -> Any:
        """The tools of ``rosey.tools`` only: a chat room never gets a tool the operator did not list."""
        if not self.settings.tools:
            return None
        assistant = self.config.assistant
        self._toolbox = await build_toolbox(assistant.tools, assistant.mcp_servers, self.config.data_dir)
        allowed = self._toolbox.restricted(self.settings.tools)
        for problem in allowed.problems:
            log.warning("tools: %s", problem)
        return allowed

    def secrets(self) -> list[str]:
        """Values that must never be published or logged: the backend's API key, NATS credentials."""
        secrets = []
        llm = self.config.provider_config().get("llm", {})
        backend = llm.get("backend") or "local"
        section = llm.get(backend) or llm.get(canonical_backend(backend)) or {}
        if env := section.get("api_key_env"):
            secrets.append(os.environ.get(env, "").strip())
        for secret in (self.settings.password, self.settings.token):
            if secret is not None:
                secrets.append(secret.get_secret_value())
        return [secret for secret in secrets if secret]

    def prompt_sentences(self) -> list[str]:
        """The sentences of the operator's persona prompts, kept out of answers that would quote them."""
        sentences = []
        for persona in self.settings.personas:
            sentences += [s.strip() for s in _SENTENCE_END.split(persona.system_prompt) if len(s.strip()) >= 16]
        return sentences
