"""Every payload shape the three generations of Rosey senders use, read into typed requests.

Senders disagree on names (``channel`` or ``channel_id``; ``user``,
``username`` or ``user_id``; the text in ``message``, ``args``, ``prompt`` or
``content``, ``args`` sometimes a list of tokens) and newer ones add fields,
so every model here accepts all the aliases and ignores unknown fields. What
cannot be read becomes a `BadRequest` whose message names the field and says
how to fix it: that text goes back to the sender as the error.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

MAX_NAME_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class BadRequest(ValueError):
    """A payload that cannot be served; the message is meant for the sender."""


def clean_text(text: str) -> str:
    """Text safe to store, log and send on: no lone surrogates, no control characters but newline and tab."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("", text)


def _name(value: Any) -> Any:
    """A name (channel, user, persona, ...) must be a string: a number is refused, never read as one."""
    if not isinstance(value, str):
        return value  # the str type check names the problem
    value = " ".join(clean_text(value).split())
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"is longer than {MAX_NAME_CHARS} characters")
    return value


def _text(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(token, str) for token in value):
        value = " ".join(value)
    if isinstance(value, str):
        return clean_text(value).strip()
    return value


Name = Annotated[str, BeforeValidator(_name)]
Text = Annotated[str, BeforeValidator(_text)]

CHANNEL = AliasChoices("channel", "channel_id")
USER = AliasChoices("user", "username", "user_id")
TEXT = AliasChoices("message", "args", "prompt", "content")
ANONYMOUS = "anonymous"

class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CommandPayload(_Payload):
    """``rosey.command.chat[.<sub>]`` and ``rosey.command.llm.reset``, as the room's command router sends them."""

    channel: Name = Field(validation_alias=CHANNEL)
    user: Name = Field(default=ANONYMOUS, validation_alias=USER)
    text: Text = Field(default="", validation_alias=TEXT)


class LegacyRequestPayload(_Payload):
    """``llm.request``, the fire-and-forget service; its oldest senders give no action and may name ``reply_to``."""

    action: Literal["chat", "complete", "reset"] | None = None
    channel: Name | None = Field(default=None, validation_alias=CHANNEL)
    user: Name = Field(default=ANONYMOUS, validation_alias=USER)
    text: Text = Field(default="", validation_alias=TEXT)
    model: Name | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    request_id: str | int | None = None
    system_prompt: Text | None = None
    reply_to: Name | None = None

    @property
    def resolved_action(self) -> str:
        """Without an action: a one-off completion, or a chat turn when a channel is named."""
        return self.action or ("chat" if self.channel else "complete")


class ChatPayload(_Payload):
    """``rosey.llm.chat``: one turn of a channel's conversation, in another persona when one is named."""

    channel: Name = Field(validation_alias=CHANNEL)
    user: Name = Field(default=ANONYMOUS, validation_alias=USER)
    text: Text = Field(validation_alias=TEXT, min_length=1)
    persona: Name | None = None


class WireMessage(_Payload):
    role: Literal["system", "user", "assistant"]
    content: Text


class CompletePayload(_Payload):
    """``rosey.llm.complete``: messages to answer outside any conversation, or just a text."""

    messages: list[WireMessage] | None = Field(default=None, min_length=1)
    text: Text = Field(default="", validation_alias=TEXT)
    system_prompt: Text | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    model: Name | None = None
    channel: Name | None = Field(default=None, validation_alias=CHANNEL)
    user: Name = Field(default=ANONYMOUS, validation_alias=USER)

    @model_validator(mode="after")
    def _something_to_complete(self) -> CompletePayload:
        if not self.messages and not self.text:
            raise ValueError("missing 'messages' (a list of {role, content}) or a 'prompt'")
        return self


class SummarizePayload(_Payload):
    """``rosey.llm.summarize``: a text to summarize in at most ``max_length`` words, in a style."""

    text: Text = Field(validation_alias=AliasChoices("text", *TEXT.choices), min_length=1)
    max_length: int = Field(default=200, ge=1, le=2000, description="words")
    style: Literal["concise", "detailed", "bullets"] = "concise"
    channel: Name | None = Field(default=None, validation_alias=CHANNEL)
    user: Name = Field(default=ANONYMOUS, validation_alias=USER)


class MemoryAddPayload(_Payload):
    channel: Name = Field(validation_alias=CHANNEL)
    text: Text = Field(validation_alias=AliasChoices("content", "message", "args", "prompt", "text"), min_length=1)
    user: Name | None = Field(default=None, validation_alias=USER)
    category: Name = "fact"
    importance: int = Field(default=1, ge=1, le=10)


class MemoryRecallPayload(_Payload):
    channel: Name = Field(validation_alias=CHANNEL)
    text: Text = Field(default="", validation_alias=AliasChoices("query", *TEXT.choices))
    user: Name | None = Field(default=None, validation_alias=USER)
    limit: int = Field(default=5, ge=1, le=50)


class PersonaGetPayload(_Payload):
    channel: Name = Field(validation_alias=CHANNEL)


class PersonaSetPayload(_Payload):
    channel: Name = Field(validation_alias=CHANNEL)
    persona: Name = Field(validation_alias=AliasChoices("persona", "name", *TEXT.choices))
    user: Name = Field(default=ANONYMOUS, validation_alias=USER)


class UsagePayload(_Payload):
    user: Name | None = Field(default=None, validation_alias=USER)
    channel: Name | None = Field(default=None, validation_alias=CHANNEL)


class EmptyPayload(_Payload):
    """Endpoints that take nothing (status, persona.list) still accept any object."""


P = TypeVar("P", bound=_Payload)


def decode_object(data: bytes, limit: int) -> dict[str, Any]:
    """The payload as a JSON object, or a `BadRequest` saying what is wrong with it."""
    if len(data) > limit:
        raise BadRequest(
            f"the payload is {len(data)} bytes, over the limit of {limit} (rosey.max_request_bytes): send less text"
        )
    if not data.strip():
        return {}
    try:
        value = json.loads(data)
    except UnicodeDecodeError:
        raise BadRequest("the payload is not UTF-8 text: send a UTF-8 JSON object") from None
    except (ValueError, RecursionError) as exc:
        detail = f" ({exc.msg} at character {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequest(f"the payload is not valid JSON{detail}: send a JSON object like {{\"message\": \"hi\"}}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the payload is {_json_type(value)}, not a JSON object: send {{\"message\": \"...\"}}")
    return value


def parse(model: type[P], payload: dict[str, Any]) -> P:
    """``payload`` read as ``model``, or a `BadRequest` naming the field at fault."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(_describe(model, exc)) from None


def identity(payload: Any) -> tuple[str, str]:
    """Channel and user of a payload, as far as they can be read, for error events and logs."""
    if not isinstance(payload, dict):
        return "", ""

    def first(names: AliasChoices) -> str:
        for name in names.choices:
            value = payload.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                try:
                    return _name(str(value))
                except ValueError:
                    return ""
        return ""

    return first(CHANNEL), first(USER)


def _field_of(model: type[_Payload], name: str) -> tuple[str, str]:
    """The model's field that ``name`` (a field name or one of its aliases) belongs to, and how to show it."""
    for field_name, info in model.model_fields.items():
        aliases = info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
        names = [str(alias) for alias in aliases] or [field_name]
        if name == field_name or name in names:
            others = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
            return field_name, f"'{names[0]}'{others}"
    return name, f"'{name}'"


_TYPE_NAMES = {
    "string_type": "a string", "list_type": "a list", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "model_type": "an object", "dict_type": "an object",
}


def _describe(model: type[_Payload], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        field, where = _field_of(model, loc[0]) if loc else ("", "the payload")
        where += "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in loc[1:])
        kind = error["type"]
        if kind == "missing":
            problems.append(f"missing {where}")
        elif kind in ("too_short", "string_too_short"):
            problems.append(f"{where} is empty")
        elif kind in _TYPE_NAMES:
            wanted = _TYPE_NAMES[kind]
            if field == "text" and len(loc) == 1:
                wanted = "a string (or a list of words)"
            problems.append(f"{where} must be {wanted}, not {_json_type(error.get('input'))}")
        elif kind == "value_error":
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            problems.append(f"{where} {message}" if loc else message)
        else:
            problems.append(f"{where}: {error['msg']}")
    return "bad request: " + "; ".join(problems)


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), "null")
