"""Saved conversations: every message kept in SQLite as it is said.

    store = ConversationStore.open_default(config.data_dir)
    conversation_id = store.create(persona="concise")
    store.add_message(conversation_id, message, backend="ollama", model="llama3.2", timings=...)
    restore_context(store, store.latest().id, context)   # `assistant --continue`

The schema of every SQLite file the program writes comes from one mechanism,
``assistant.store.migrations``; ``MIGRATIONS`` are the conversation file's.

Errors::

    StoreError               the file cannot be used (newer schema, not a database, unwritable)
    ConversationNotFound     (a KeyError) no conversation has that id, or an id prefix is ambiguous
"""

from ._records import (
    ConversationNotFound,
    ConversationSummary,
    StoredMessage,
    StoreError,
    TurnTimings,
)
from ._restore import MISSING_RESULT, restore_context
from ._schema import MIGRATIONS
from ._store import FILE_NAME, ConversationStore, default_path, title_from

__all__ = [
    "FILE_NAME",
    "MIGRATIONS",
    "MISSING_RESULT",
    "ConversationNotFound",
    "ConversationStore",
    "ConversationSummary",
    "StoreError",
    "StoredMessage",
    "TurnTimings",
    "default_path",
    "restore_context",
    "title_from",
]
