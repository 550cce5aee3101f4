"""The remember and recall tools: notes kept across restarts, found by their words."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

from assistant.tools import ToolBox, ToolResult, ToolSettings, builtin_tools
from tests.assistant.tool_helpers import call

# --- remember / recall --------------------------------------------------------------------------------


async def test_notes_are_recalled_by_word_ignoring_case_most_recent_first(builtins: ToolBox) -> None:
    for note in ["Anna likes tulips", "The car is booked for service on Friday", "Anna's birthday is 3 May"]:
        assert await call(builtins, "remember", note=note) == ToolResult(f"Remembered: {note}")

    found = json.loads((await call(builtins, "recall", query="ANNA")).content)

    assert [item["note"] for item in found] == ["Anna's birthday is 3 May", "Anna likes tulips"]
    assert all(datetime.fromisoformat(item["saved"]).tzinfo for item in found)


async def test_notes_matching_more_of_the_words_come_first_and_words_match_their_longer_forms(
    builtins: ToolBox,
) -> None:
    for note in ["Anna's birthday is 3 May", "Anna likes tulips", "Tulips need water twice a week"]:
        await call(builtins, "remember", note=note)

    found = json.loads((await call(builtins, "recall", query="anna tulip")).content)

    assert [item["note"] for item in found] == [
        "Anna likes tulips",
        "Tulips need water twice a week",
        "Anna's birthday is 3 May",
    ]


async def test_an_empty_query_recalls_the_latest_notes_and_no_match_says_so(builtins: ToolBox) -> None:
    assert await call(builtins, "recall") == ToolResult("There are no notes yet.")
    await call(builtins, "remember", note="first")
    await call(builtins, "remember", note="second")

    assert [item["note"] for item in json.loads((await call(builtins, "recall")).content)] == ["second", "first"]
    assert await call(builtins, "recall", query="zebra") == ToolResult("No notes match 'zebra'.")


async def test_notes_persist_for_the_next_start_of_the_assistant(tmp_path: Path) -> None:
    first_run = ToolBox(builtin_tools(ToolSettings(), tmp_path))
    await call(first_run, "remember", note="The wifi password is on the fridge")

    next_run = ToolBox(builtin_tools(ToolSettings(), tmp_path))
    found = json.loads((await call(next_run, "recall", query="wifi")).content)

    assert [item["note"] for item in found] == ["The wifi password is on the fridge"]


async def test_a_word_finds_the_notes_with_longer_words_it_starts(builtins: ToolBox) -> None:
    for note in ["Anna's birthday is 3 May", "Ben was born in Leeds", "The car is booked for Friday"]:
        await call(builtins, "remember", note=note)

    found = json.loads((await call(builtins, "recall", query="birth")).content)

    assert [item["note"] for item in found] == ["Anna's birthday is 3 May"]


# Notes as the first release kept them: a bare table, no schema version.
FIRST_RELEASE_NOTES = """
CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, saved TEXT NOT NULL);
INSERT INTO notes (text, saved) VALUES ('Anna likes tulips', '2025-01-02T10:00:00+01:00');
INSERT INTO notes (text, saved) VALUES ('The wifi password is on the fridge', '2025-01-02T10:00:00+01:00');
INSERT INTO notes (text, saved) VALUES ('Anna''s birthday is 3 May', '2025-03-04T18:30:05-05:00');
"""


async def test_notes_saved_by_the_first_release_are_kept_with_when_they_were_saved(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "memory.sqlite3") as raw:
        raw.executescript(FIRST_RELEASE_NOTES)
    raw.close()
    box = ToolBox(builtin_tools(ToolSettings(), data))

    await call(box, "remember", note="Anna is allergic to lilies")
    latest = json.loads((await call(box, "recall")).content)
    about_anna = json.loads((await call(box, "recall", query="anna")).content)

    assert [item["note"] for item in latest] == [
        "Anna is allergic to lilies",
        "Anna's birthday is 3 May",
        "The wifi password is on the fridge",
        "Anna likes tulips",
    ]
    assert [datetime.fromisoformat(item["saved"]) for item in latest[1:]] == [
        datetime.fromisoformat("2025-03-04T18:30:05-05:00"),
        datetime.fromisoformat("2025-01-02T10:00:00+01:00"),
        datetime.fromisoformat("2025-01-02T10:00:00+01:00"),
    ]
    assert [item["note"] for item in about_anna] == [
        "Anna is allergic to lilies", "Anna's birthday is 3 May", "Anna likes tulips",
    ]


async def test_a_notes_file_from_a_newer_release_is_reported_not_overwritten(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "memory.sqlite3") as raw:
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    box = ToolBox(builtin_tools(ToolSettings(), data))

    result = await call(box, "remember", note="Anna likes tulips")

    assert result.is_error
    assert "schema version 99, written by a newer Rosey Assistant" in result.content
    with sqlite3.connect(data / "memory.sqlite3") as raw:
        assert raw.execute("SELECT name FROM sqlite_master").fetchall() == []
    raw.close()


async def test_an_empty_note_is_refused_naming_the_field(builtins: ToolBox) -> None:
    result = await call(builtins, "remember", note="")

    assert result.is_error
    assert "'note'" in result.content
