"""The built-in tools: the date and time, a calculator, notes, and reading files.

Each is a typed function made a tool by ``tool``; errors the
model should read (an unknown time zone, a path outside the allowed folders)
are raised as ``ToolError`` with a message that says what to do instead.
Notes are memories of ``assistant.memory`` (the same records and word ranking
as the chat bot's rooms), kept in a file of their own in the data folder.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence
from datetime import datetime as _datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from llm import FileInjectionError, read_text_file

from ..memory import NOTES_CHANNEL, Memory, NoteFile, rank_by_words
from ._core import Tool, ToolError, tool
from .settings import ToolSettings

READ_FILE_MAX_BYTES = 1_000_000
RECALL_LIMIT = 10
NOTES_FILE_NAME = "memory.sqlite3"


def builtin_tools(settings: ToolSettings, data_dir: Path) -> list[Tool]:
    """The built-ins ``settings`` enable; read_file only when it has folders to read from."""
    tools = []
    if settings.datetime:
        tools.append(tool(current_datetime))
    if settings.calculator:
        tools.append(tool(calculator))
    if settings.memory:
        tools += _note_tools(NoteFile(Path(data_dir) / NOTES_FILE_NAME))
    if settings.read_file and settings.read_file_dirs:
        tools.append(_read_file_tool(settings.read_file_dirs))
    return tools


# --- current_datetime -------------------------------------------------------------------------


def current_datetime(
    timezone: Annotated[
        str | None, Field(description="IANA time zone, e.g. 'Europe/Paris'; omit for the user's local time")
    ] = None,
) -> dict[str, str]:
    """The current date and time, with the time zone and its UTC offset."""
    if timezone:
        try:
            now = _datetime.now(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolError(
                f"unknown time zone '{timezone}'; use an IANA name such as 'Europe/London' or 'America/New_York'"
            ) from None
    else:
        now = _datetime.now().astimezone()
    offset = now.strftime("%z")
    return {
        "date": now.strftime("%Y-%m-%d"),
        "weekday": now.strftime("%A"),
        "time": now.strftime("%H:%M:%S"),
        "timezone": timezone or now.tzname() or "local",
        "utc_offset": f"{offset[:3]}:{offset[3:]}",
    }


# --- calculator -------------------------------------------------------------------------------

MAX_INT_BITS = 4_000
MAX_EXPRESSION_CHARS = 1_000


def _power(base: float, exponent: float) -> float:
    """Refuses integer powers too big to compute in reasonable time, such as 9 ** 9 ** 9."""
    exact = isinstance(base, int) and isinstance(exponent, int)
    if exact and exponent > 0 and abs(base) > 1 and exponent * base.bit_length() > MAX_INT_BITS:
        raise OverflowError
    return base**exponent


def _checked(value: Any) -> float:
    if isinstance(value, complex):
        raise ToolError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise OverflowError
    return value


_BINARY_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY_OPERATORS: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10, "log2": math.log2,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "degrees": math.degrees, "radians": math.radians, "floor": math.floor, "ceil": math.ceil,
    "abs": abs, "round": round, "min": min, "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def calculator(
    expression: Annotated[str, Field(description="e.g. '(17 + 4) * 3', '2 ** 10', 'sqrt(2) * pi'")],
) -> str:
    """Work out an arithmetic expression exactly; use it rather than doing arithmetic in your head.

    Supports + - * / // % ** (or ^), parentheses, pi, e, tau and sqrt, exp, log, log10, log2,
    sin, cos, tan, asin, acos, atan, degrees, radians, floor, ceil, abs, round, min, max.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.replace("^", "**").strip(), mode="eval")
        value = _evaluate(tree.body)
    except SyntaxError:
        raise ToolError(f"'{expression}' is not an arithmetic expression") from None
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("the result is too large") from None
    except RecursionError:
        raise ToolError("the expression is nested too deeply") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is too large")
    return str(value) if isinstance(value, int) else format(value, ".15g")


def _evaluate(node: ast.expr) -> float:
    """Walk only the node types listed here: there is no way to reach names, attributes or calls
    other than the math functions, so nothing the model writes can run code."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        return _checked(_BINARY_OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        return _UNARY_OPERATORS[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(f"unknown name '{node.id}'; known constants: {', '.join(_CONSTANTS)}")
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Attribute):
        raise ToolError("attribute access (the '.' after a value) is not arithmetic")
    raise ToolError(f"'{ast.unparse(node)}' is not arithmetic the calculator understands")


def _call(node: ast.Call) -> float:
    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
    function = _FUNCTIONS.get(name)
    if function is None:
        raise ToolError(f"'{name}' is not a function the calculator knows; it knows {', '.join(_FUNCTIONS)}")
    if node.keywords:
        raise ToolError(f"{name}() takes no named arguments")
    arguments = [_evaluate(argument) for argument in node.args]
    try:
        return _checked(function(*arguments))
    except (TypeError, ValueError) as exc:
        raise ToolError(f"{name}({', '.join(map(str, arguments))}): {exc}") from None


# --- remember / recall ------------------------------------------------------------------------


def _note_tools(notes: NoteFile) -> list[Tool]:
    """remember and recall over the assistant's notes; recall ranks by words (no embeddings here)."""

    def remember(note: Annotated[str, Field(min_length=1, description="the fact, in a full sentence")]) -> str:
        """Save a note for later conversations: facts about the user, their preferences, anything
        they ask you to remember. Notes persist across restarts."""
        notes.add(Memory(NOTES_CHANNEL, note.strip()))
        return f"Remembered: {note.strip()}"

    def recall(
        query: Annotated[str, Field(description="words to look for; empty for the latest notes")] = "",
    ) -> list[dict[str, str]] | str:
        """Look up notes saved with remember; the best matches come first, the most recent
        first among equals."""
        saved = notes.memories(NOTES_CHANNEL)
        if not saved:
            return "There are no notes yet."
        found = rank_by_words(query, saved, RECALL_LIMIT)
        if not found:
            return f"No notes match '{query}'."
        return [{"note": memory.content, "saved": _local_time(memory.created)} for memory in found]

    return [tool(remember), tool(recall)]


def _local_time(timestamp: float) -> str:
    return _datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


# --- read_file --------------------------------------------------------------------------------


def _read_file_tool(folders: Sequence[Path]) -> Tool:
    names = ", ".join(str(folder) for folder in folders)

    def read_file(path: Annotated[str, Field(description="absolute, or relative to the first shared folder")]) -> str:
        roots = [folder.resolve() for folder in folders]
        # resolve() follows symlinks and '..' first, so neither can lead outside the folders.
        target = (roots[0] / Path(path).expanduser()).resolve()
        if not any(target.is_relative_to(root) for root in roots):
            raise ToolError(f"{path} is outside the folders you may read: {names}")
        if target.is_dir():
            entries = sorted(f"{entry.name}/" if entry.is_dir() else entry.name for entry in target.iterdir())
            return f"{target} is a folder containing: {', '.join(entries) or 'nothing'}"
        try:
            return read_text_file(target, READ_FILE_MAX_BYTES)
        except FileInjectionError as exc:
            raise ToolError(_unreadable(path, exc)) from None

    description = (
        f"Read a text file (or list a folder) in the folders the user shared: {names}. "
        f"Relative paths start at {folders[0]}."
    )
    return tool(read_file, description=description)


def _unreadable(path: str, error: FileInjectionError) -> str:
    """Why ``path`` cannot be read, worded for the model that asked for it."""
    if error.reason == "too_large":
        return f"{path} is {error.size:,} bytes; read_file reads files up to {READ_FILE_MAX_BYTES:,} bytes"
    if error.reason == "binary":
        return f"{path} is a binary file; read_file reads text files only"
    if error.reason == "not_utf8":
        return f"{path} is not UTF-8 text; read_file reads text files only"
    if error.reason in ("missing", "not_a_file"):
        return f"{path}: no such file"
    return f"{path} cannot be read: {error}"
