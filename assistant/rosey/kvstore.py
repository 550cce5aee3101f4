"""The store in a JetStream KV bucket, shared by every bot process on the same NATS.

Keys (KV keys allow only ``[-/_=.a-zA-Z0-9]``, so channel names are
URL-safe base64)::

    channel.<channel>     the channel's persona and conversation (ChannelRecord)
    memories.<channel>    the channel's memories (``assistant.memory.Memory`` records), one JSON list
    usage.<YYYY-MM-DD>    the day's usage totals
    <kind>.<name>         what the processes count together (``sharedlimits.py``: rate-limit windows)

Channel records, the memories a turn sees and the records of `change_record`,
read on every request, come from a `KeyMirror` of their kind (kept current by a
watcher). Other reads (what ``recall`` and ``forget`` search) are direct gets,
which the bucket allows, skipping a round through the JetStream API. Every
write is a compare-and-set on the key's revision: channel records surface a
conflict as `StaleRecord` for the caller to merge (the key is then read from
the server); memories, usage and records are re-read and re-applied here
until the write lands.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    ServiceUnavailableError,
)

from ..memory import Memory, newest_memories
from .kvmirror import KeyMirror
from .store import ChannelRecord, StaleRecord, Store, StoreUnavailable
from .usage import Counts, UsageKey

_CAS_ATTEMPTS = 20


def encode_key_part(name: str) -> str:
    """``name`` in the characters a KV key allows, reversibly."""
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")


class JetStreamStore(Store):
    """The store in a JetStream KV bucket, for bot processes that share one NATS.

    It owns the bucket handle, never the NATS client (the plugin's host does),
    and never overwrites a key blindly: every write names the revision it read.
    """

    shared = True

    def __init__(self, nats_client: Any, bucket: str) -> None:
        self._nc = nats_client
        self.bucket = bucket
        self._kv: Any = None
        self._mirrors: dict[str, KeyMirror] = {}
        self._parsed: dict[str, tuple[int, Any]] = {}
        """What every request reads (channel records, memories, limit records) as last parsed or written,
        by key: its revision and value."""

    async def open(self) -> None:
        js = self._nc.jetstream()
        try:
            try:
                self._kv = await js.key_value(self.bucket)
            except BucketNotFoundError:
                self._kv = await js.create_key_value(bucket=self.bucket, history=1, direct=True,
                                                     description="Rosey LLM plugin")
        except (ServiceUnavailableError, NoRespondersError):
            raise StoreUnavailable(
                f"cannot open the JetStream KV bucket '{self.bucket}': the NATS server has no JetStream; "
                "is JetStream enabled on the NATS server (nats-server -js)? Or set rosey.memory.backend: sqlite"
            ) from None
        except (NatsError, TimeoutError) as exc:
            raise StoreUnavailable(f"cannot open the JetStream KV bucket '{self.bucket}': {_reason(exc)}") from None
        for kind in ("channel", "memories"):
            await self._mirror_of(kind)

    async def close(self) -> None:
        mirrors, self._mirrors = self._mirrors, {}
        for mirror in mirrors.values():
            await mirror.stop()

    async def load_channel(self, channel: str) -> ChannelRecord:
        key = f"channel.{encode_key_part(channel)}"
        entry = await self._get(key, await self._mirror_of("channel"))
        if entry is None:
            return ChannelRecord()
        return self._parse(key, entry, lambda value: ChannelRecord.from_json(value, entry.revision))

    async def save_channel(self, channel: str, record: ChannelRecord) -> int:
        key = f"channel.{encode_key_part(channel)}"
        mirror = await self._mirror_of("channel")
        try:
            written = await self._write(key, record.to_json().encode(), record.revision, mirror)
        except KeyWrongLastSequenceError:
            raise StaleRecord(channel) from None
        self._parsed[key] = (written, ChannelRecord(record.persona, record.summary, list(record.turns), written))
        return written

    async def add_memory(self, memory: Memory) -> None:
        await self._change_memories(memory.channel, lambda memories: newest_memories([*memories, memory]))

    async def memories(self, channel: str) -> list[Memory]:
        entry = await self._get(f"memories.{encode_key_part(channel)}")
        return _memories_from_json(entry.value) if entry else []

    async def delete_memories(self, channel: str, ids: set[str]) -> int:
        deleted = 0

        def without(memories: list[Memory]) -> list[Memory]:
            nonlocal deleted
            kept = [memory for memory in memories if memory.id not in ids]
            deleted = len(memories) - len(kept)
            return kept

        await self._change_memories(channel, without)
        return deleted

    async def add_usage(self, day: str, increments: dict[UsageKey, Counts]) -> dict[UsageKey, Counts]:
        def added(totals: dict[UsageKey, Counts]) -> dict[UsageKey, Counts]:
            for key, counts in increments.items():
                totals.setdefault(key, Counts()).add(counts)
            return totals

        return await self._compare_and_set(f"usage.{day}", _usage_from_json, _usage_to_json, added, b"{}")

    async def usage(self, day: str) -> dict[UsageKey, Counts]:
        entry = await self._get(f"usage.{day}")
        return _usage_from_json(entry.value) if entry else {}

    async def change_record(
        self, kind: str, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        return await self._compare_and_set(f"{kind}.{encode_key_part(name)}", json.loads,
                                           lambda value: json.dumps(value).encode(), change, b"{}",
                                           await self._mirror_of(kind))

    def known_memories(self, channel: str) -> list[Memory] | None:
        return self._known("memories", channel, _memories_from_json, b"[]")

    def known_record(self, kind: str, name: str) -> dict[str, Any] | None:
        return self._known(kind, name, json.loads, b"{}")

    def _known(self, kind: str, name: str, load: Callable[[bytes], Any], empty: bytes) -> Any:
        """The value of ``kind``'s key for ``name`` as its mirror knows it (``empty`` when absent); None
        when no mirror can tell."""
        mirror, key = self._mirrors.get(kind), f"{kind}.{encode_key_part(name)}"
        if mirror is None or not mirror.covers(key):
            return None
        entry = mirror.get(key)
        return self._parse(key, entry, load) if entry else load(empty)

    def _parse(self, key: str, entry: Any, load: Callable[[bytes], Any]) -> Any:
        """``load(entry.value)``, once per revision: every request reads its channel's record and memories
        and its limit records, which change once a request or less. Callers never change in place what
        they get (they build a new value)."""
        parsed = self._parsed.get(key)
        if parsed is None or parsed[0] != entry.revision:
            parsed = self._parsed[key] = (entry.revision, load(entry.value))
        return parsed[1]

    async def _mirror_of(self, kind: str) -> KeyMirror:
        """The mirror of the keys of ``kind``, started on first use."""
        mirror = self._mirrors.get(kind)
        if mirror is None:
            mirror = self._mirrors[kind] = KeyMirror(self._kv, self._nc, f"{kind}.>")
            await mirror.start()
        return mirror

    async def _change_memories(self, channel: str, change: Callable[[list[Memory]], list[Memory]]) -> None:
        def dump(memories: list[Memory]) -> bytes:
            return json.dumps([memory.to_dict() for memory in memories]).encode()

        await self._compare_and_set(f"memories.{encode_key_part(channel)}", _memories_from_json, dump, change, b"[]",
                                    await self._mirror_of("memories"))

    async def _compare_and_set(
        self, key: str, load: Callable[[bytes], Any], dump: Callable[[Any], bytes], change: Callable[[Any], Any],
        empty: bytes, mirror: KeyMirror | None = None,
    ) -> Any:
        """``change`` applied to the key's value and written, re-read and re-applied until no one raced us."""
        for _ in range(_CAS_ATTEMPTS):
            entry = await self._get(key, mirror)
            value = change(load(entry.value if entry else empty))
            try:
                await self._write(key, dump(value), entry.revision if entry else 0, mirror)
                return value
            except KeyWrongLastSequenceError:
                continue
        raise StoreUnavailable(f"{key} in the KV bucket '{self.bucket}' kept changing under us; try again")

    async def _get(self, key: str, mirror: KeyMirror | None = None) -> Any:
        """The key's entry (``.value``, ``.revision``) or None; from ``mirror`` when it can answer."""
        if mirror is not None and mirror.covers(key):
            return mirror.get(key)
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            entry = None
        except (TimeoutError, NatsError) as exc:
            raise StoreUnavailable(f"cannot read {key} from the KV bucket '{self.bucket}': {_reason(exc)}") from None
        if mirror is not None:
            mirror.record(key, entry.value if entry else None, entry.revision if entry else 0)
        return entry

    async def _write(self, key: str, value: bytes, revision: int, mirror: KeyMirror | None = None) -> int:
        try:
            if revision == 0:
                written = await self._kv.create(key, value)
            else:
                written = await self._kv.update(key, value, last=revision)
        except KeyWrongLastSequenceError:
            if mirror is not None:
                mirror.forget(key)
            raise
        except (TimeoutError, NatsError) as exc:
            raise StoreUnavailable(f"cannot write {key} to the KV bucket '{self.bucket}': {_reason(exc)}") from None
        if mirror is not None:
            mirror.record(key, value, written)
        return written


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _memories_from_json(value: bytes) -> list[Memory]:
    return [Memory.from_dict(item) for item in json.loads(value)]


def _usage_to_json(totals: dict[UsageKey, Counts]) -> bytes:
    return json.dumps({f"{scope}|{name}": counts.to_dict() for (scope, name), counts in totals.items()}).encode()


def _usage_from_json(value: bytes) -> dict[UsageKey, Counts]:
    totals: dict[UsageKey, Counts] = {}
    for joined, counts in json.loads(value).items():
        scope, _, name = joined.partition("|")
        totals[(scope, name)] = Counts.from_dict(counts)
    return totals
