"""Every conversation, saved as it happens, in one SQLite file.

Each message is committed the moment it is added (WAL journal, synchronous
FULL), so a crash or a kill loses at most the message being written. The
methods are short synchronous calls touching a few rows each: callers on the
event loop may call them directly. One lock serialises use of the connection,
so a caller may also use them from worker threads.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

from llm import Message, MessageRole

from ._markdown import conversation_markdown
from ._records import (
    ConversationNotFound,
    ConversationSummary,
    StoredMessage,
    StoreError,
    TurnTimings,
)
from ._rows import INSERT_MESSAGE, message_row, read_messages
from ._schema import MIGRATIONS
from .migrations import NewerSchema, migrate

FILE_NAME = "conversations.db"
TITLE_LENGTH = 60
_ID_BYTES = 6  # 12 hex characters: short enough to type a prefix of, far from colliding

_SUMMARY_SELECT = """
    SELECT c.id, c.title, c.persona, c.created_at, c.updated_at,
           (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count,
           last_answer.backend, last_answer.model
    FROM conversations c
    LEFT JOIN messages last_answer ON last_answer.id = (
        SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant'
    )
"""

_HAS_EXCHANGE = "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.role != 'system')"


def default_path(data_dir: Path) -> Path:
    return Path(data_dir).expanduser() / FILE_NAME


def title_from(text: str) -> str:
    """A one-line title from the start of a user's message, cut at a word near 60 characters."""
    line = " ".join(text.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1]
    space = cut.rfind(" ")
    if space >= TITLE_LENGTH // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


class ConversationStore:
    """The conversation history in one SQLite file, brought up to the current schema when opened.

    It owns the file's connection and is the only code that writes the file. It
    never holds a live conversation (``restore_context`` replays one into a
    ``ConversationContext``) and never rewrites a saved message, except to mark an
    answer cut off by the person speaking over it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._last_stamp: datetime | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create its folder ({exc.strerror}); set data_dir to a writable folder"
            raise StoreError(self.path, problem) from None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except sqlite3.Error as exc:
            problem = f"cannot open the conversation history ({exc}); check the file's permissions"
            raise StoreError(self.path, problem) from None
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            # A deleted conversation should not linger in free pages of the file.
            self._db.execute("PRAGMA secure_delete = ON")
            migrate(self._db, self.path, MIGRATIONS)
        except NewerSchema as exc:
            self._db.close()
            problem = (f"the conversation history has {exc.problem}. Upgrade Rosey Assistant, or move the file "
                       "aside to start a new history.")
            raise StoreError(self.path, problem) from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(self.path, _open_problem(exc)) from None
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open_default(cls, data_dir: Path) -> ConversationStore:
        return cls(default_path(data_dir))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -----------------------------------------------------------

    def create(self, *, persona: str | None = None, title: str | None = None) -> str:
        """Start a conversation; without a title, its first user message will give it one."""
        title = _clean_title(title) if title is not None else ""
        with self._write() as db:
            stamp = _stamp(self._now())
            conversation_id = secrets.token_hex(_ID_BYTES)
            while db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone():
                conversation_id = secrets.token_hex(_ID_BYTES)
            db.execute(
                "INSERT INTO conversations (id, title, persona, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, title, persona, stamp, stamp),
            )
        return conversation_id

    def add_message(
        self,
        conversation_id: str,
        message: Message,
        *,
        backend: str | None = None,
        model: str | None = None,
        timings: TurnTimings | None = None,
        interrupted: bool = False,
    ) -> int:
        """Save one message, committed before returning; returns its id."""
        role = MessageRole(message.role)
        timings = timings or TurnTimings()
        with self._write() as db:
            stamp = _stamp(self._now())
            row = db.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                raise _not_found(conversation_id)
            values = message_row(
                conversation_id, message, backend=backend, model=model, stamp=stamp, timings=timings,
                interrupted=interrupted,
            )
            message_id = db.execute(INSERT_MESSAGE, values).lastrowid
            db.executemany(
                "INSERT INTO message_images (message_id, position, media_type, data) VALUES (?, ?, ?, ?)",
                [(message_id, i, image.media_type, image.data) for i, image in enumerate(message.images or [])],
            )
            title = row["title"]
            if not title and role is MessageRole.USER:
                title = title_from(message.content)
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?", (stamp, title, conversation_id)
            )
        return message_id

    def mark_interrupted(self, message_id: int, content: str) -> None:
        """An answer was cut off after it was saved (the person spoke over it): keep only what was heard."""
        with self._write() as db:
            db.execute("UPDATE messages SET content = ?, interrupted = 1 WHERE id = ?", (content, message_id))

    def set_title(self, conversation_id: str, title: str) -> None:
        self._update(conversation_id, "title", _clean_title(title))

    def set_persona(self, conversation_id: str, persona: str | None) -> None:
        self._update(conversation_id, "persona", persona)

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation, its messages and images, leaving no copy of them in the file."""
        with self._write() as db:
            if db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount == 0:
                raise _not_found(conversation_id)
        with self._lock:
            # Moves the zeroed pages out of the journal into the file; busy readers just delay it.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading -----------------------------------------------------------

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        """The conversation's messages in the order they were added."""
        with self._read() as db:
            _require(db, conversation_id)
            return read_messages(db, conversation_id)

    def list(self, limit: int = 50, *, include_empty: bool = False) -> list[ConversationSummary]:
        """Conversations, most recently updated first.

        Conversations nobody has said anything in yet are left out unless
        ``include_empty``: opening the app and leaving should not fill the list.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        where = "" if include_empty else f"WHERE {_HAS_EXCHANGE}"
        with self._read() as db:
            rows = db.execute(
                f"{_SUMMARY_SELECT} {where} ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_summary(row) for row in rows]

    def latest(self) -> ConversationSummary | None:
        """The conversation to resume with ``--continue``: the last one anything was said in."""
        found = self.list(limit=1)
        return found[0] if found else None

    def get(self, conversation_id: str) -> ConversationSummary:
        """The conversation with this id, or with the only id that starts with it."""
        with self._read() as db:
            return _read_summary(db, _resolve(db, conversation_id))

    def export_markdown(self, conversation_id: str) -> str:
        with self._read() as db:
            _require(db, conversation_id)
            summary = _read_summary(db, conversation_id)
            messages = read_messages(db, conversation_id)
        return conversation_markdown(summary, messages)

    # -- private -----------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction that holds the write lock from the start, so checks and writes agree."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot, so a conversation is never read half-written by another process."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def _update(self, conversation_id: str, column: str, value: str | None) -> None:
        with self._write() as db:
            cursor = db.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?", (value, conversation_id))
            if cursor.rowcount == 0:
                raise _not_found(conversation_id)

    def _now(self) -> datetime:
        """Now in UTC, strictly later than the last stamp, so ordering by time never ties.

        Called only under the write lock, which also orders it against other processes' writes.
        """
        now = datetime.now(UTC)
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now


def _open_problem(exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"cannot be written ({text}); make it writable, or set data_dir to a writable folder"
    if "locked" in text:
        return f"is held by another program ({text}); close the other Rosey Assistant and try again"
    return f"is not a readable conversation history ({text}); move the file aside to start a new one"


def _stamp(moment: datetime) -> str:
    # Fixed width and always UTC, so text order is time order.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _clean_title(title: str) -> str:
    line = " ".join(title.split())
    if not line:
        raise ValueError("a conversation title cannot be empty")
    return line


def _not_found(conversation_id: str) -> ConversationNotFound:
    return ConversationNotFound(
        f"no saved conversation has the id {conversation_id!r}; pick one from the list of saved conversations"
    )


def _require(db: sqlite3.Connection, conversation_id: str) -> None:
    if db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
        raise _not_found(conversation_id)


def _resolve(db: sqlite3.Connection, wanted: str) -> str:
    """The full id meant by ``wanted``: itself, or the one id it is a prefix of."""
    prefix = wanted.strip().lower()
    if not prefix:
        raise ConversationNotFound("no conversation id given; pick one from the list of saved conversations")
    if db.execute("SELECT 1 FROM conversations WHERE id = ?", (prefix,)).fetchone():
        return prefix
    matches = [
        row["id"]
        for row in db.execute(
            "SELECT id FROM conversations WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 4", (len(prefix), prefix)
        )
    ]
    if not matches:
        raise _not_found(wanted)
    if len(matches) > 1:
        shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise ConversationNotFound(
            f"the id prefix {wanted!r} matches several conversations ({shown}); type more of the id"
        )
    return matches[0]


def _read_summary(db: sqlite3.Connection, conversation_id: str) -> ConversationSummary:
    return _summary(db.execute(f"{_SUMMARY_SELECT} WHERE c.id = ?", (conversation_id,)).fetchone())


def _summary(row: sqlite3.Row) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"],
        title=row["title"],
        persona=row["persona"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        message_count=row["message_count"],
        backend=row["backend"],
        model=row["model"],
    )
