"""What a tool is: a typed Python function the model can call, and the box that runs them by name.

A tool is a typed function; its signature becomes the JSON Schema the model
sees (through pydantic, so the schema and the validation of the model's
arguments can never disagree) and its docstring the description the model
chooses it by. ``ToolBox.run`` never raises: whatever goes wrong (an unknown
tool, bad arguments, an exception, a timeout) becomes an error result the model
can read and act on, because a model that is told what went wrong can fix its
call, while a crashed turn helps nobody.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

import pydantic_core
from pydantic import ConfigDict, ValidationError, create_model

from llm import ToolCall, ToolDefinition

logger = logging.getLogger(__name__)

BUILT_IN = "built-in"
UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What goes back to the model: text (structured results JSON-encoded) and whether it failed."""

    content: str
    is_error: bool = False


class ToolError(Exception):
    """An expected failure whose message is for the model, e.g. an unknown time zone."""


class InvalidArguments(ToolError):
    """The model's arguments do not fit the tool's schema; the message names the fields."""


Invoke = Callable[[dict[str, Any]], Awaitable[Any]]


class Tool:
    """One callable tool: its definition for the model, where it comes from and how to run it."""

    __slots__ = ("_invoke", "definition", "source")

    def __init__(self, definition: ToolDefinition, invoke: Invoke, source: str = BUILT_IN) -> None:
        self.definition = definition
        self.source = source
        self._invoke = invoke

    @property
    def name(self) -> str:
        return self.definition.name

    async def invoke(self, arguments: dict[str, Any]) -> ToolResult:
        """Run the tool; raises on failure (``ToolBox.run`` turns that into a result)."""
        return _as_result(await self._invoke(arguments))

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, source={self.source!r})"


@overload
def tool(fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> Tool: ...
@overload
def tool(
    fn: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a typed function a tool: ``@tool`` or ``@tool(name=..., description=...)``.

    Parameters need type annotations (``Annotated[T, Field(description=...)]`` describes
    one); the description is the docstring unless given. Sync functions run in a worker
    thread, so a slow one never stalls the event loop.
    """

    def make(function: Callable[..., Any]) -> Tool:
        return _function_tool(function, name or function.__name__, description)

    return make if fn is None else make(fn)


def _function_tool(fn: Callable[..., Any], name: str, description: str | None) -> Tool:
    description = description or inspect.getdoc(fn)
    if not description:
        raise TypeError(f"tool {name}: give it a docstring or a description; the model picks tools by it")
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(fn, eval_str=True).parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise TypeError(f"tool {name}: parameter {parameter.name} must be a plain named parameter")
        if parameter.annotation is parameter.empty:
            raise TypeError(f"tool {name}: parameter {parameter.name} needs a type annotation")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (parameter.annotation, default)
    arguments_model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    is_async = inspect.iscoroutinefunction(fn)

    async def invoke(arguments: dict[str, Any]) -> Any:
        try:
            parsed = arguments_model.model_validate(arguments)
        except ValidationError as exc:
            raise InvalidArguments(_describe_invalid(exc)) from None
        kwargs = {field: getattr(parsed, field) for field in arguments_model.model_fields}
        return await fn(**kwargs) if is_async else await asyncio.to_thread(fn, **kwargs)

    schema = _without_titles(arguments_model.model_json_schema())
    return Tool(ToolDefinition(name=name, description=description, parameters=schema), invoke)


def _without_titles(schema: Any) -> Any:
    """Drop pydantic's generated ``title`` keys: tokens the model pays for and learns nothing from."""
    if isinstance(schema, dict):
        return {
            key: (
                {prop: _without_titles(sub) for prop, sub in value.items()}
                if key in ("properties", "$defs")
                else _without_titles(value)
            )
            for key, value in schema.items()
            if key != "title"
        }
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    return schema


def _describe_invalid(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "missing":
            problems.append(f"'{field}' is required")
        elif error["type"] == "extra_forbidden":
            problems.append(f"'{field}' is not a parameter of this tool")
        else:
            problems.append(f"'{field}': {error['msg']} (got {error['input']!r})")
    return "; ".join(problems)


def _as_result(value: Any) -> ToolResult:
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, str):
        return ToolResult(value)
    return ToolResult(pydantic_core.to_json(value).decode())


class ToolBox:
    """The tools offered to the model, run by name; owns the MCP servers it was built with."""

    def __init__(
        self,
        tools: Iterable[Tool] = (),
        *,
        timeout: float = 30.0,
        max_result_chars: int = 16_000,
        problems: Iterable[str] = (),
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_result_chars = max_result_chars
        self.problems: list[str] = list(problems)
        self._tools: dict[str, Tool] = {}
        self._on_close = on_close
        for item in tools:
            self.add(item)

    def add(self, tool: Tool) -> None:
        if existing := self._tools.get(tool.name):
            raise ValueError(
                f"two tools are named '{tool.name}': one from {existing.source}, one from {tool.source}; "
                "rename one of them"
            )
        self._tools[tool.name] = tool

    def definitions(self) -> list[ToolDefinition]:
        return [item.definition for item in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)

    def source(self, name: str) -> str:
        """``built-in`` or the MCP server's name; ``unknown`` for a name the model made up."""
        found = self._tools.get(name)
        return found.source if found else UNKNOWN_SOURCE

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def restricted(self, allowed: Iterable[str]) -> ToolBox:
        """The same tools, only those in ``allowed``, e.g. for the chat bot.

        A name not available is a problem, not an error, so one MCP server failing to start
        does not take the whole bot down. The restricted box does not own the MCP servers:
        close the box it came from.
        """
        allowed = list(allowed)
        missing = [name for name in allowed if name not in self._tools]
        problems = [*self.problems]
        if missing:
            problems.append(
                f"allowed tools not available: {', '.join(missing)} (available: {', '.join(self._tools) or 'none'})"
            )
        return ToolBox(
            (self._tools[name] for name in dict.fromkeys(allowed) if name in self._tools),
            timeout=self.timeout,
            max_result_chars=self.max_result_chars,
            problems=problems,
        )

    async def run(self, call: ToolCall) -> ToolResult:
        """Run one call; never raises except ``CancelledError``."""
        found = self._tools.get(call.name)
        if found is None:
            available = ", ".join(self._tools) or "none"
            return ToolResult(f"There is no tool named '{call.name}'. Available tools: {available}.", is_error=True)
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                result = await found.invoke(call.arguments)
        except InvalidArguments as exc:
            return ToolResult(f"Invalid arguments for {call.name}: {exc}. Call it again with corrected arguments.", is_error=True)
        except ToolError as exc:
            return ToolResult(f"{call.name} failed: {exc}", is_error=True)
        except TimeoutError as exc:
            if deadline.expired():
                return ToolResult(f"{call.name} did not finish within {self.timeout:g} s", is_error=True)
            return self._failure(call, exc)
        except Exception as exc:  # noqa: BLE001 - a failing tool is news for the model, not a crash
            return self._failure(call, exc)
        return self._capped(result)

    def _failure(self, call: ToolCall, exc: Exception) -> ToolResult:
        logger.warning("tool %s failed", call.name, exc_info=exc)
        return ToolResult(f"{call.name} failed: {type(exc).__name__}: {exc}", is_error=True)

    def _capped(self, result: ToolResult) -> ToolResult:
        if len(result.content) <= self.max_result_chars:
            return result
        note = f"\n[truncated: the result has {len(result.content):,} characters; the first {self.max_result_chars:,} are shown]"
        return ToolResult(result.content[: self.max_result_chars] + note, result.is_error)

    async def aclose(self) -> None:
        """Stop the MCP servers; the built-ins keep working, the MCP tools answer with errors."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()
