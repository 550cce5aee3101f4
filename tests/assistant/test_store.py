"""Saved conversations: everything said is kept on disk, survives restarts and kills, and can be resumed."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC
from pathlib import Path

import pytest

from assistant.store import (
    MIGRATIONS,
    MISSING_RESULT,
    ConversationNotFound,
    ConversationStore,
    StoreError,
    TurnTimings,
    default_path,
    restore_context,
)
from assistant.store.migrations import migrate
from llm import ConversationContext, Image, Message, MessageRole, ReasoningBlock, ToolCall

REPO = Path(__file__).resolve().parents[2]
PICTURE = Image.from_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
TIMINGS = TurnTimings(
    time_to_first_token=0.42, tokens_per_second=31.5, total_seconds=1.25, prompt_tokens=120, completion_tokens=18
)
CALL = ToolCall(id="call_1", name="current_time", arguments={"timezone": "Europe/Paris"})
THOUGHT = [
    ReasoningBlock(text="Paris is UTC+1 in winter — call current_time.\n", signature="EqQBCgIYAhIM1gb+/="),
    ReasoningBlock(redacted_data="EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfW"),
]


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    with ConversationStore.open_default(tmp_path / "data") as opened:
        yield opened


def say(store: ConversationStore, conversation_id: str, role: MessageRole, content: str, **kwargs) -> int:
    return store.add_message(conversation_id, Message(role, content), **kwargs)


def record_a_turn_with_everything(store: ConversationStore) -> str:
    """A system prompt, a question with a picture, a tool call and its result, an interrupted answer."""
    conversation_id = store.create(persona="concise")
    say(store, conversation_id, MessageRole.SYSTEM, "You are Rosey.")
    store.add_message(conversation_id, Message(MessageRole.USER, "What time is it in Paris?", images=[PICTURE]))
    store.add_message(
        conversation_id, Message(MessageRole.ASSISTANT, "", tool_calls=[CALL]), backend="ollama", model="llama3.2"
    )
    store.add_message(
        conversation_id, Message(MessageRole.TOOL, "14:05", name="current_time", tool_call_id="call_1")
    )
    say(store, conversation_id, MessageRole.ASSISTANT, "It is five past two in", backend="ollama",
        model="llama3.2", timings=TIMINGS, interrupted=True)
    say(store, conversation_id, MessageRole.USER, "Thanks. And in words?")
    say(store, conversation_id, MessageRole.ASSISTANT, "Five past two.", backend="openai", model="gpt-4o-mini")
    return conversation_id


def test_the_history_lives_in_conversations_db_in_the_data_dir(tmp_path: Path) -> None:
    with ConversationStore.open_default(tmp_path / "new" / "data") as store:
        store.create()
    assert default_path(tmp_path / "new" / "data") == tmp_path / "new" / "data" / "conversations.db"
    assert (tmp_path / "new" / "data" / "conversations.db").is_file()


def test_a_conversation_read_back_after_a_restart_is_what_was_said(tmp_path: Path) -> None:
    with ConversationStore.open_default(tmp_path) as first_run:
        conversation_id = record_a_turn_with_everything(first_run)

    with ConversationStore.open_default(tmp_path) as second_run:
        stored = second_run.messages(conversation_id)

    assert [(s.message.role, s.message.content) for s in stored] == [
        (MessageRole.SYSTEM, "You are Rosey."),
        (MessageRole.USER, "What time is it in Paris?"),
        (MessageRole.ASSISTANT, ""),
        (MessageRole.TOOL, "14:05"),
        (MessageRole.ASSISTANT, "It is five past two in"),
        (MessageRole.USER, "Thanks. And in words?"),
        (MessageRole.ASSISTANT, "Five past two."),
    ]
    assert [(s.backend, s.model) for s in stored if s.message.role is MessageRole.ASSISTANT] == [
        ("ollama", "llama3.2"), ("ollama", "llama3.2"), ("openai", "gpt-4o-mini"),
    ]
    question, call, result, cut_off = stored[1], stored[2], stored[3], stored[4]
    assert question.message.images == [PICTURE]
    assert call.message.tool_calls == [CALL]
    assert (result.message.tool_call_id, result.message.name) == ("call_1", "current_time")
    assert cut_off.timings == TIMINGS and cut_off.interrupted
    assert stored[-1].timings is None and not stored[-1].interrupted
    assert all(s.created_at.tzinfo == UTC for s in stored)
    assert [s.created_at for s in stored] == sorted(s.created_at for s in stored)


def test_the_first_user_message_titles_the_conversation_on_one_short_line(store: ConversationStore) -> None:
    conversation_id = store.create()
    say(store, conversation_id, MessageRole.USER,
        "Could you help me plan\na week of vegetarian dinners for a family of four, on a budget?")
    say(store, conversation_id, MessageRole.USER, "Also lunches.")

    title = store.get(conversation_id).title
    assert title.startswith("Could you help me plan a week of vegetarian dinners")
    assert "\n" not in title and len(title) <= 60 and title.endswith("…")

    named = store.create(title="Dinner plans")
    say(store, named, MessageRole.USER, "Something else entirely")
    assert store.get(named).title == "Dinner plans"
    store.set_title(named, "Dinners, week 12")
    assert store.get(named).title == "Dinners, week 12"
    with pytest.raises(ValueError, match="title cannot be empty"):
        store.set_title(named, "  ")


def test_the_list_shows_the_last_talked_in_first_and_latest_is_what_continue_resumes(
    store: ConversationStore,
) -> None:
    older, newer, untouched = store.create(), store.create(), store.create(persona="playful")
    say(store, older, MessageRole.USER, "first")
    say(store, newer, MessageRole.USER, "second")
    say(store, untouched, MessageRole.USER, "third")
    say(store, older, MessageRole.ASSISTANT, "back to the first", backend="local", model="gemma-3-270m")
    opened_and_left = store.create()

    listed = store.list()
    assert [c.id for c in listed] == [older, untouched, newer]
    assert store.latest() == listed[0]
    assert (listed[0].message_count, listed[0].backend, listed[0].model) == (2, "local", "gemma-3-270m")
    assert listed[1].persona == "playful" and listed[1].backend is None
    assert [c.id for c in store.list(limit=2)] == [older, untouched]
    assert opened_and_left not in [c.id for c in listed]
    assert store.list(include_empty=True)[0].id == opened_and_left
    assert store.get(opened_and_left).message_count == 0


def test_a_new_history_has_nothing_to_continue(store: ConversationStore) -> None:
    assert store.latest() is None
    assert store.list() == []


def test_deleting_a_conversation_removes_its_messages_and_leaves_no_copy_on_disk(tmp_path: Path) -> None:
    with ConversationStore.open_default(tmp_path) as store:
        kept = store.create()
        say(store, kept, MessageRole.USER, "a shopping list")
        secret = store.create()
        for n in range(20):
            store.add_message(secret, Message(MessageRole.USER, f"my diary entry {n}", images=[PICTURE]))
        store.delete(secret)

        with pytest.raises(ConversationNotFound):
            store.messages(secret)
        assert [c.id for c in store.list()] == [kept]
        # Checked while the store is still open, as it is in a running app.
        files = list(tmp_path.glob("conversations.db*"))
        assert not any(b"diary entry" in path.read_bytes() for path in files)

    with sqlite3.connect(tmp_path / "conversations.db") as raw:
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (1,)
        assert raw.execute("SELECT count(*) FROM message_images").fetchone() == (0,)


def test_the_markdown_export_reads_like_the_conversation(store: ConversationStore) -> None:
    conversation_id = record_a_turn_with_everything(store)
    markdown = store.export_markdown(conversation_id)

    assert markdown.startswith("# What time is it in Paris?\n")
    assert "persona: concise" in markdown
    assert "**You**\n\nWhat time is it in Paris?" in markdown
    assert "1 image attached: image/png" in markdown
    assert '```json\n{\n  "id": "call_1",\n  "name": "current_time",' in markdown
    assert '"timezone": "Europe/Paris"' in markdown
    assert "Result of `current_time`:\n\n```\n14:05\n```" in markdown
    assert (
        "**Rosey** (ollama/llama3.2, first token 0.42 s, 31.5 tok/s)\n\nIt is five past two in\n\n*(interrupted)*"
    ) in markdown
    assert "**Rosey** (openai/gpt-4o-mini)\n\nFive past two." in markdown
    assert markdown.count("*(interrupted)*") == 1


def test_code_in_a_message_cannot_break_the_exported_tool_result(store: ConversationStore) -> None:
    conversation_id = store.create(title="Code")
    store.add_message(conversation_id, Message(MessageRole.TOOL, "```\nnot the end\n```", tool_call_id="x"))
    assert "````\n```\nnot the end\n```\n````" in store.export_markdown(conversation_id)


def test_an_unknown_id_is_a_not_found_error_naming_the_id(store: ConversationStore) -> None:
    actions = [
        lambda: store.get("0123abcd"),
        lambda: store.messages("0123abcd"),
        lambda: say(store, "0123abcd", MessageRole.USER, "hello"),
        lambda: store.set_title("0123abcd", "x"),
        lambda: store.delete("0123abcd"),
        lambda: store.export_markdown("0123abcd"),
    ]
    for action in actions:
        with pytest.raises(ConversationNotFound) as caught:
            action()
        assert isinstance(caught.value, KeyError)
        assert str(caught.value) == (
            "no saved conversation has the id '0123abcd'; pick one from the list of saved conversations"
        )


def test_a_unique_id_prefix_finds_its_conversation_and_an_ambiguous_one_asks_for_more(
    store: ConversationStore,
) -> None:
    # 17 ids over 16 hex digits: two of them must start alike.
    ids = [store.create() for _ in range(17)]
    by_first_digit: dict[str, list[str]] = {}
    for conversation_id in ids:
        by_first_digit.setdefault(conversation_id[0], []).append(conversation_id)
    shared = next(group for group in by_first_digit.values() if len(group) > 1)

    assert all(store.get(i[:8]).id == i for i in ids)
    assert store.get(ids[0].upper()).id == ids[0]
    with pytest.raises(ConversationNotFound, match="matches several conversations .* type more of the id"):
        store.get(shared[0][0])
    with pytest.raises(ConversationNotFound, match="no conversation id given"):
        store.get(" ")


# The schema of the first release, frozen: files written by it must open in every later release.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', persona TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX conversations_by_update ON conversations (updated_at);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content TEXT NOT NULL, name TEXT, tool_call_id TEXT, tool_calls TEXT, backend TEXT, model TEXT,
    created_at TEXT NOT NULL, time_to_first_token REAL, tokens_per_second REAL, total_seconds REAL,
    prompt_tokens INTEGER, completion_tokens INTEGER, interrupted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE TABLE message_images (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, media_type TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (message_id, position));
INSERT INTO conversations VALUES
    ('a1b2c3d4e5f6', 'Old times', NULL, '2025-01-02T03:04:05.000000+00:00', '2025-01-02T03:04:09.000000+00:00');
INSERT INTO messages (conversation_id, role, content, created_at) VALUES
    ('a1b2c3d4e5f6', 'user', 'Hello from the first release', '2025-01-02T03:04:05.000000+00:00');
INSERT INTO messages (conversation_id, role, content, tool_calls, backend, model, created_at, tokens_per_second)
    VALUES ('a1b2c3d4e5f6', 'assistant', '', '[{"id": "c9", "name": "recall", "arguments": {"key": "k"}}]',
            'ollama', 'llama3.2', '2025-01-02T03:04:09.000000+00:00', 12.5);
PRAGMA user_version = 1;
"""


def test_a_first_release_history_is_upgraded_to_keep_tool_errors_and_thinking(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(FIRST_RELEASE_SCHEMA)
    raw.close()

    with ConversationStore(path) as store:
        old = store.messages("a1b2c3d4e5f6")
        store.add_message("a1b2c3d4e5f6", Message(MessageRole.ASSISTANT, "", tool_calls=[CALL],
                                                  reasoning_blocks=THOUGHT))
        store.add_message("a1b2c3d4e5f6", Message(MessageRole.TOOL, "unknown timezone", name="current_time",
                                                  tool_call_id="call_1", is_error=True))
    with ConversationStore(path) as reopened:
        stored = reopened.messages("a1b2c3d4e5f6")

    assert [s.message.content for s in stored[:2]] == [s.message.content for s in old]
    assert [(s.message.is_error, s.message.reasoning_blocks) for s in old] == [(False, None), (False, None)]
    assert stored[2].message.reasoning_blocks == THOUGHT
    assert stored[3].message.is_error
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (2,)
    raw.close()


def test_a_history_written_by_the_first_release_opens_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(FIRST_RELEASE_SCHEMA)
    raw.close()

    with ConversationStore(path) as store:
        summary = store.get("a1b2")
        stored = store.messages("a1b2c3d4e5f6")
        say(store, "a1b2c3d4e5f6", MessageRole.USER, "Still here")

    assert (summary.title, summary.model, summary.message_count) == ("Old times", "llama3.2", 2)
    assert stored[0].message.content == "Hello from the first release"
    assert stored[1].message.tool_calls == [ToolCall("c9", "recall", {"key": "k"})]
    assert stored[1].timings == TurnTimings(tokens_per_second=12.5)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    raw.close()


def test_a_later_releases_migration_runs_once_in_order_and_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    with ConversationStore(path) as store:
        say(store, store.create(), MessageRole.USER, "before the upgrade")

    def add_pinned_flag(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    upgraded = (*MIGRATIONS, add_pinned_flag)
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, path, upgraded)
    migrate(db, path, upgraded)  # a second run would fail on the duplicate column if it re-applied
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS) + 1,)
    kept = db.execute("SELECT content, pinned FROM messages JOIN conversations c ON c.id = conversation_id")
    assert kept.fetchall() == [("before the upgrade", 0)]
    db.close()


def test_a_failed_migration_leaves_the_file_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    ConversationStore(path).close()

    def half_done(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk full")

    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(RuntimeError, match="disk full"):
        migrate(db, path, (*MIGRATIONS, half_done))
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    db.close()


def test_a_history_from_a_newer_release_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    ConversationStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    raw.close()

    with pytest.raises(StoreError) as caught:
        ConversationStore(path)
    message = str(caught.value)
    assert str(path) in message
    assert "schema version 99, written by a newer Rosey Assistant" in message
    assert "Upgrade Rosey Assistant" in message


def test_a_file_that_is_not_a_history_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError) as caught:
        ConversationStore(path)
    assert str(caught.value).startswith(f"{path}: is not a readable conversation history")
    assert "move the file aside" in str(caught.value)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from assistant.store import ConversationStore
    from llm import Message, MessageRole

    store = ConversationStore(Path(sys.argv[1]))
    conversation_id = store.create()
    print(conversation_id, flush=True)
    n = 0
    while True:
        message_id = store.add_message(conversation_id, Message(MessageRole.USER, f"message {n}"))
        print(message_id, flush=True)
        n += 1
    """
)


def test_a_killed_writer_loses_nothing_that_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )

    def reported() -> str:
        line = writer.stdout.readline()
        assert line, "the writer process died before reporting (its error is in the captured stderr)"
        return line.strip()

    try:
        conversation_id = reported()
        saved = [int(reported()) for _ in range(25)]
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL

    with ConversationStore(path) as store:
        stored = store.messages(conversation_id)
    assert [s.id for s in stored][: len(saved)] == saved
    assert [s.message.content for s in stored] == [f"message {n}" for n in range(len(stored))]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()


async def test_worker_threads_can_save_messages_side_by_side(store: ConversationStore) -> None:
    conversation_id = store.create()
    await asyncio.gather(
        *(asyncio.to_thread(say, store, conversation_id, MessageRole.USER, f"line {n}") for n in range(20))
    )
    assert sorted(s.message.content for s in store.messages(conversation_id)) == sorted(f"line {n}" for n in range(20))


def test_a_resumed_conversation_puts_every_message_back_in_order(store: ConversationStore) -> None:
    conversation_id = record_a_turn_with_everything(store)
    context = ConversationContext(max_turns=10)

    restore_context(store, conversation_id, context)

    assert context.get_messages() == [s.message for s in store.messages(conversation_id)]
    assert context.system_message == "You are Rosey."
    assert context.turn_count == 2


def test_a_tool_call_cut_off_by_a_kill_gets_a_result_so_the_resumed_conversation_is_valid(
    store: ConversationStore,
) -> None:
    conversation_id = store.create()
    say(store, conversation_id, MessageRole.USER, "What time is it?")
    store.add_message(conversation_id, Message(MessageRole.ASSISTANT, "", tool_calls=[CALL]), model="llama3.2")
    context = ConversationContext()

    restore_context(store, conversation_id, context)
    context.add_user_message("Hello again")

    roles = [(m.role, m.tool_call_id, m.content, m.is_error) for m in context.get_messages()]
    assert roles == [
        (MessageRole.USER, None, "What time is it?", False),
        (MessageRole.ASSISTANT, None, "", False),
        (MessageRole.TOOL, "call_1", MISSING_RESULT, True),
        (MessageRole.USER, None, "Hello again", False),
    ]


def test_a_tool_calls_thinking_and_a_failed_result_survive_a_restart_and_a_resume(tmp_path: Path) -> None:
    asked = Message(MessageRole.ASSISTANT, "Let me check.", tool_calls=[CALL], reasoning_blocks=THOUGHT)
    failed = Message(MessageRole.TOOL, "current_time failed: unknown timezone", name="current_time",
                     tool_call_id="call_1", is_error=True)
    with ConversationStore.open_default(tmp_path) as first_run:
        conversation_id = first_run.create()
        say(first_run, conversation_id, MessageRole.USER, "What time is it in Paris?")
        first_run.add_message(conversation_id, asked, backend="anthropic", model="claude-sonnet-4-5")
        first_run.add_message(conversation_id, failed)
    context = ConversationContext()

    with ConversationStore.open_default(tmp_path) as second_run:
        stored = [s.message for s in second_run.messages(conversation_id)]
        restore_context(second_run, conversation_id, context)
        markdown = second_run.export_markdown(conversation_id)

    assert stored[1:] == [asked, failed]
    assert context.get_messages()[1:] == [asked, failed]
    assert "Error from `current_time`:" in markdown
