"""Tools: typed functions become schemas, the box runs calls without ever crashing, the built-ins."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import pytest
from pydantic import Field, ValidationError

from assistant.tools import (
    ToolBox,
    ToolError,
    ToolResult,
    ToolSettings,
    build_toolbox,
    builtin_tools,
    tool,
)
from llm import ToolDefinition
from tests.assistant.tool_helpers import call


@tool
def days_until(day: date) -> int:
    """Days from 1 January 2030 to the given day."""
    return (day - date(2030, 1, 1)).days


# --- typed functions become tool definitions -----------------------------------------------------


def test_a_typed_function_becomes_a_schema_with_types_defaults_required_and_descriptions() -> None:
    @tool
    def book_table(
        restaurant: Annotated[str, Field(description="name of the restaurant")],
        people: int,
        time: str = "19:00",
        vegetarian: bool = False,
    ) -> str:
        """Book a table at a restaurant."""
        return "booked"

    assert book_table.definition == ToolDefinition(
        name="book_table",
        description="Book a table at a restaurant.",
        parameters={
            "type": "object",
            "properties": {
                "restaurant": {"type": "string", "description": "name of the restaurant"},
                "people": {"type": "integer"},
                "time": {"type": "string", "default": "19:00"},
                "vegetarian": {"type": "boolean", "default": False},
            },
            "required": ["restaurant", "people"],
            "additionalProperties": False,
        },
    )
    assert book_table.source == "built-in"


def test_name_and_description_can_be_given_instead_of_the_function_name_and_docstring() -> None:
    def lookup(word: str) -> str:
        return word

    made = tool(lookup, name="dictionary", description="Look a word up in the dictionary.")

    assert (made.name, made.definition.description) == ("dictionary", "Look a word up in the dictionary.")


def test_a_parameter_without_a_type_is_refused_when_the_tool_is_made() -> None:
    def vague(thing) -> str:
        """Do something."""
        return ""

    with pytest.raises(TypeError, match="parameter thing needs a type annotation"):
        tool(vague)


def test_a_tool_without_a_description_is_refused_since_the_model_chooses_tools_by_it() -> None:
    def silent(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="docstring or a description"):
        tool(silent)


# --- running calls ---------------------------------------------------------------------------------


async def test_arguments_are_validated_and_converted_to_the_declared_types() -> None:
    result = await call(ToolBox([days_until]), "days_until", day="2030-01-31")

    assert result == ToolResult("30")


@pytest.mark.parametrize(
    ("arguments", "explanation"),
    [
        ({"day": "soon"}, "'day': Input should be a valid date"),
        ({}, "'day' is required"),
        ({"day": "2030-02-01", "hour": 9}, "'hour' is not a parameter of this tool"),
    ],
)
async def test_arguments_that_do_not_fit_are_an_error_result_naming_the_field(
    arguments: dict[str, object], explanation: str
) -> None:
    result = await call(ToolBox([days_until]), "days_until", **arguments)

    assert result.is_error
    assert result.content.startswith("Invalid arguments for days_until:")
    assert explanation in result.content


async def test_an_unknown_tool_is_an_error_result_listing_the_tools_there_are() -> None:
    box = ToolBox([days_until])

    result = await call(box, "weather", city="Oslo")

    assert result == ToolResult("There is no tool named 'weather'. Available tools: days_until.", is_error=True)
    assert box.source("weather") == "unknown"


async def test_an_exception_in_a_tool_becomes_an_error_result_not_a_crash() -> None:
    @tool
    def explode() -> str:
        """Fails."""
        raise RuntimeError("kaput")

    result = await call(ToolBox([explode]), "explode")

    assert result == ToolResult("explode failed: RuntimeError: kaput", is_error=True)


async def test_a_tool_error_reaches_the_model_as_its_message() -> None:
    @tool
    async def lookup(word: str) -> str:
        """Look a word up."""
        raise ToolError(f"'{word}' is not in the dictionary")

    result = await call(ToolBox([lookup]), "lookup", word="zzz")

    assert result == ToolResult("lookup failed: 'zzz' is not in the dictionary", is_error=True)


async def test_a_call_that_outlives_the_timeout_is_an_error_result() -> None:
    @tool
    async def wait_forever() -> str:
        """Never answers."""
        await asyncio.Event().wait()
        return "never"

    result = await call(ToolBox([wait_forever], timeout=0.01), "wait_forever")

    assert result == ToolResult("wait_forever did not finish within 0.01 s", is_error=True)


async def test_a_long_result_is_cut_to_the_cap_with_a_note_saying_so() -> None:
    @tool
    def chatter() -> str:
        """Says a lot."""
        return "x" * 50

    result = await call(ToolBox([chatter], max_result_chars=20), "chatter")

    assert result.content.startswith("x" * 20 + "\n[truncated:")
    assert "50 characters" in result.content
    assert "x" * 21 not in result.content


async def test_structured_results_reach_the_model_as_json() -> None:
    @tool
    def forecast(city: str) -> dict[str, object]:
        """The weather."""
        return {"city": city, "high": 21.5, "days": [date(2030, 1, 1)]}

    result = await call(ToolBox([forecast]), "forecast", city="Oslo")

    assert json.loads(result.content) == {"city": "Oslo", "high": 21.5, "days": ["2030-01-01"]}


async def test_several_async_calls_run_at_the_same_time() -> None:
    both_arrived = asyncio.Barrier(2)

    @tool
    async def meet(who: str) -> str:
        """Waits until the other caller has arrived too."""
        await both_arrived.wait()
        return f"{who} met"

    box = ToolBox([meet], timeout=30)
    results = await asyncio.gather(call(box, "meet", who="ann"), call(box, "meet", who="bob"))

    assert results == [ToolResult("ann met"), ToolResult("bob met")]


async def test_sync_tools_run_in_worker_threads_at_the_same_time() -> None:
    both_arrived = threading.Barrier(2, timeout=30)

    @tool
    def meet(who: str) -> str:
        """Blocks until the other caller has arrived too: possible only if each has its own thread."""
        both_arrived.wait()
        return f"{who} met"

    box = ToolBox([meet])
    results = await asyncio.gather(call(box, "meet", who="ann"), call(box, "meet", who="bob"))

    assert results == [ToolResult("ann met"), ToolResult("bob met")]


def test_two_tools_with_one_name_are_refused_naming_both_sources() -> None:
    box = ToolBox([days_until])

    def another(day: date) -> date:
        return day

    other = tool(another, name="days_until", description="Another.")
    other.source = "calendar"

    with pytest.raises(ValueError, match="'days_until': one from built-in, one from calendar"):
        box.add(other)


async def test_a_restricted_box_offers_and_runs_only_the_allowed_tools() -> None:
    box = ToolBox(builtin_tools(ToolSettings(), Path("unused")))

    restricted = box.restricted(["calculator", "current_datetime", "search_web"])

    assert restricted.names() == ["calculator", "current_datetime"]
    assert [d.name for d in restricted.definitions()] == ["calculator", "current_datetime"]
    assert (await call(restricted, "remember", note="x")).is_error
    assert restricted.problems == [
        "allowed tools not available: search_web (available: current_datetime, calculator, remember, recall)"
    ]


# --- settings and the built-in set --------------------------------------------------------------


def test_settings_choose_the_built_ins_and_read_file_needs_a_folder(tmp_path: Path) -> None:
    def names(**settings: object) -> list[str]:
        return [t.name for t in builtin_tools(ToolSettings.model_validate(settings), tmp_path)]

    assert names() == ["current_datetime", "calculator", "remember", "recall"]
    assert names(read_file_dirs=[tmp_path]) == ["current_datetime", "calculator", "remember", "recall", "read_file"]
    assert names(memory=False, calculator=False, read_file_dirs=[tmp_path]) == ["current_datetime", "read_file"]
    assert names(datetime=False, calculator=False, memory=False, read_file=False, read_file_dirs=[tmp_path]) == []


def test_settings_expand_home_and_refuse_unknown_keys() -> None:
    assert ToolSettings(read_file_dirs=["~/notes"]).read_file_dirs == [Path.home() / "notes"]
    with pytest.raises(ValidationError, match="calculater"):
        ToolSettings.model_validate({"calculater": False})


async def test_a_read_file_folder_that_does_not_exist_is_reported_as_a_problem(tmp_path: Path) -> None:
    settings = ToolSettings(read_file_dirs=[tmp_path / "missing"])

    box = await build_toolbox(settings, [], tmp_path)

    assert box.problems == [
        f"assistant.tools.read_file_dirs: {tmp_path / 'missing'} is not a folder; read_file cannot read anything there"
    ]
    assert "calculator" in box.names()


# --- current_datetime -----------------------------------------------------------------------------


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch):
    """Set the machine's local time zone for one test."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


async def test_the_time_is_local_with_the_zone_and_its_offset(builtins: ToolBox, local_zone) -> None:
    local_zone("Asia/Kolkata")

    now = json.loads((await call(builtins, "current_datetime")).content)

    assert (now["timezone"], now["utc_offset"]) == ("IST", "+05:30")


async def test_the_time_in_a_named_zone_is_the_time_there_now(builtins: ToolBox) -> None:
    zone = ZoneInfo("Asia/Kathmandu")
    before = datetime.now(zone).replace(microsecond=0)
    now = json.loads((await call(builtins, "current_datetime", timezone="Asia/Kathmandu")).content)
    after = datetime.now(zone)

    reported = datetime.fromisoformat(f"{now['date']}T{now['time']}{now['utc_offset']}")
    assert before <= reported <= after
    assert now["weekday"] == reported.strftime("%A")
    assert (now["timezone"], now["utc_offset"]) == ("Asia/Kathmandu", "+05:45")


async def test_an_unknown_time_zone_is_an_error_that_says_what_a_zone_looks_like(builtins: ToolBox) -> None:
    result = await call(builtins, "current_datetime", timezone="Mars/Olympus")

    assert result.is_error
    assert "unknown time zone 'Mars/Olympus'" in result.content
    assert "'Europe/London'" in result.content


# --- calculator -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 3 * 4", "14"),
        ("(2 + 3) * 4", "20"),
        ("7 / 2", "3.5"),
        ("7 // 2", "3"),
        ("7 % 3", "1"),
        ("-(2 ** 10)", "-1024"),
        ("2^10", "1024"),
        ("0.1 + 0.2", "0.3"),
        ("sqrt(16) + abs(-2)", "6"),
        ("round(pi, 4)", "3.1416"),
        ("max(3, 9, 4) - min(3, 9, 4)", "6"),
        ("2 ** 100", "1267650600228229401496703205376"),
    ],
)
async def test_the_calculator_works_out_arithmetic(builtins: ToolBox, expression: str, value: str) -> None:
    assert await call(builtins, "calculator", expression=expression) == ToolResult(value)


@pytest.mark.parametrize(
    ("expression", "explanation"),
    [
        ("1 / 0", "division by zero"),
        ("9 ** 9 ** 9", "the result is too large"),
        ("10.0 ** 400", "the result is too large"),
        ("sqrt(-1)", "sqrt(-1): math domain error"),
        ("(-8) ** 0.5", "not a real number"),
        ("__import__('os')", "'__import__' is not a function the calculator knows"),
        ("().__class__", "attribute access"),
        ("(1).real", "attribute access"),
        ("x + 1", "unknown name 'x'"),
        ("'a' * 3", "is not arithmetic the calculator understands"),
        ("[1, 2]", "is not arithmetic the calculator understands"),
        ("2 +", "is not an arithmetic expression"),
        ("round(2.5, ndigits=1)", "takes no named arguments"),
    ],
)
async def test_the_calculator_refuses_what_is_not_safe_arithmetic(
    builtins: ToolBox, expression: str, explanation: str
) -> None:
    result = await call(builtins, "calculator", expression=expression)

    assert result.is_error
    assert explanation in result.content
