"""Reading Wyoming events off a socket without trusting the sender.

The ``wyoming`` package's own reader gives up on the connection at the first
line that is not JSON and reads a payload of whatever length the header
claims into memory. A server for many satellites must instead answer a bad
event with an ``error`` and carry on, so this reader skips what it refuses
(an over-long header, data or payload) and stays in step with the stream.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from wyoming.event import Event

MAX_HEADER_BYTES = 64 * 1024
"""A header line or its data part longer than this is refused (info events are a few kB)."""
_SKIP_PIECE = 64 * 1024


@dataclass(frozen=True, slots=True)
class BadEvent:
    """An event that could not be read; ``text`` says what was wrong and what to send instead."""

    text: str
    code: str


async def read_event(reader: asyncio.StreamReader, max_payload_bytes: int) -> Event | BadEvent | None:
    """The next event, a ``BadEvent`` for one that was skipped, or None at the end of the stream."""
    try:
        line = await _read_line(reader)
        if line is None:
            return BadEvent(f"an event header is longer than {MAX_HEADER_BYTES} bytes", "header-too-long")
        if not line.strip():
            return BadEvent("an empty line is not an event; send one JSON object per line", "bad-header")
        try:
            header = json.loads(line)
        except ValueError as exc:
            return BadEvent(f"the event header is not JSON ({exc.msg}); send one JSON object per line", "bad-header")
        if not isinstance(header, dict):
            return BadEvent("the event header must be a JSON object with a 'type'", "bad-header")
        data_length = _length(header, "data_length")
        payload_length = _length(header, "payload_length")
        if data_length is None or payload_length is None:
            await _skip(reader, max(0, _int(header.get("data_length"))) + max(0, _int(header.get("payload_length"))))
            return BadEvent("data_length and payload_length must be whole numbers of bytes", "bad-header")
        if data_length > MAX_HEADER_BYTES or payload_length > max_payload_bytes:
            await _skip(reader, data_length + payload_length)
            return BadEvent(
                f"the event is too large (data {data_length} bytes, payload {payload_length} bytes; at most "
                f"{MAX_HEADER_BYTES} and {max_payload_bytes}): send audio in smaller chunks",
                "too-large",
            )
        data = header.get("data") or {}
        if data_length:
            try:
                extra = json.loads(await reader.readexactly(data_length))
            except ValueError as exc:
                await _skip(reader, payload_length)
                return BadEvent(f"the event's data is not JSON ({exc})", "bad-data")
            if not isinstance(extra, dict) or not isinstance(data, dict):
                await _skip(reader, payload_length)
                return BadEvent("the event's data must be a JSON object", "bad-data")
            data = {**data, **extra}
        payload = await reader.readexactly(payload_length) if payload_length else None
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        return BadEvent("the event has no 'type'; every event needs one, e.g. {\"type\": \"describe\"}", "no-type")
    if not isinstance(data, dict):
        return BadEvent("the event's data must be a JSON object", "bad-data")
    return Event(type=event_type, data=data, payload=payload)


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """One header line; None when it was too long (and has been skipped to its end)."""
    too_long = False
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as exc:
            too_long = True
            await reader.readexactly(exc.consumed)
            continue
        except asyncio.IncompleteReadError as exc:
            if exc.partial and not too_long:
                return exc.partial
            raise
        if too_long or len(line) > MAX_HEADER_BYTES:
            return None
        return line


def _length(header: dict, key: str) -> int | None:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def _skip(reader: asyncio.StreamReader, count: int) -> None:
    """Read and forget ``count`` bytes, a piece at a time, so a huge payload never sits in memory."""
    while count > 0:
        piece = await reader.read(min(count, _SKIP_PIECE))
        if not piece:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(piece)
