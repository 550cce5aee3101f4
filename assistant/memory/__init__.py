"""What the assistant remembers for people: one record, one SQLite layout, one ranking, scoped per channel.

    notes = NoteFile(data_dir / "memory.sqlite3")            # the remember/recall tools
    notes.add(Memory(NOTES_CHANNEL, "Anna likes tulips"))
    rank_by_words("tulip", notes.memories(NOTES_CHANNEL), limit=10)

    ranker = Recall(provider)                                # the chat bot's rooms
    await ranker.rank("feline", memories_of_the_room, limit=3)

A `Memory` belongs to one channel (a chat room, or the assistant's notes) and
names the user who said it. Every SQLite file that holds memories uses the
table of ``_table`` through its own migrations (``assistant.store.migrations``);
the chat bot also keeps the same records in a JetStream KV bucket. Ranking is
by meaning when the backend has embeddings (`Recall`), else by words
(`rank_by_words`). This package knows no face: the tools and the bot import it,
never the other way round.
"""

from ._notes import NOTES_CHANNEL, NoteFile
from ._ranking import Recall, matching_words, rank_by_words
from ._record import MAX_MEMORIES_PER_CHANNEL, Memory, newest_memories
from ._table import create_memory_table, delete_memories, insert_memory, select_memories

__all__ = [
    "MAX_MEMORIES_PER_CHANNEL",
    "NOTES_CHANNEL",
    "Memory",
    "NoteFile",
    "Recall",
    "create_memory_table",
    "delete_memories",
    "insert_memory",
    "matching_words",
    "newest_memories",
    "rank_by_words",
    "select_memories",
]
