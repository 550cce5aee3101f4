"""How every SQLite file the program writes gets its schema: numbered migrations.

Each file has its own tuple of migrations (the conversation history, the chat
bot's database, the assistant's notes). Migration N brings a file from schema
version N-1 to N; the version lives in ``PRAGMA user_version``, so SQLite
records it atomically with the change itself. A released migration is never
edited: a later release changes a schema by appending a function to that
file's tuple. Each one runs in its own ``BEGIN IMMEDIATE`` transaction, so two
processes opening an old file at once cannot both apply it, and a kill halfway
leaves the file at the old version. A file at a version past the last
migration was written by a newer release and is refused (`NewerSchema`):
this release cannot know what that schema means.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

Migration = Callable[[sqlite3.Connection], None]


class NewerSchema(Exception):
    """The file's schema version is past every migration this release knows: a newer release wrote it.

    ``problem`` says so in words a caller puts in its own message, beside the fix
    that fits its file (upgrade, or point the program at another file).
    """

    def __init__(self, path: Path, version: int, latest: int) -> None:
        self.path = path
        self.version = version
        self.latest = latest
        self.problem = (
            f"schema version {version}, written by a newer Rosey Assistant; this one knows versions up to {latest}"
        )
        super().__init__(f"{path}: {self.problem}")


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> None:
    """Apply, in order, every migration of ``migrations`` the file at ``path`` has not had yet.

    ``db`` must have no transaction open: each migration runs in a transaction
    of its own, committed together with its version bump.
    """
    latest = len(migrations)
    version = schema_version(db)
    if version > latest:
        raise NewerSchema(path, version, latest)
    while schema_version(db) < latest:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the write lock: another process may have migrated meanwhile.
            version = schema_version(db)
            if version < latest:
                migrations[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
