"""Which memories answer a query: by meaning when the backend has embeddings, else by the words.

The words ranking serves everyone (the remember/recall tools, the chat bot
when its backend cannot embed, and beside the embeddings so that a
word-for-word match is never missed). Vectors are a cache, not data: they are
computed from a memory's text by the current backend and kept in this
process, so a memory added by another bot process, or stored before the
embedding model changed, is simply embedded on first use. A backend that
cannot embed (most llama.cpp servers are started without ``--embedding``) is
asked again only after a pause, and recall meanwhile ranks by words, so it
always answers.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence

from llm import LLMError, LLMProvider

from ._record import Memory, newest_first

log = logging.getLogger("assistant.memory")

RETRY_EMBEDDINGS_AFTER = 300.0
_CACHE_SIZE = 20000
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "did", "for", "from", "has", "have",
    "he", "her", "his", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "she", "so", "that",
    "the", "their", "them", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who",
    "why", "will", "with", "you", "your", "about", "all", "any", "can", "could", "would", "should",
})


def words(text: str) -> list[str]:
    """Lower-case words of two letters or more, without stop words, plural "s" dropped so "cats" finds "cat"."""
    found = []
    for word in _WORD.findall(text.casefold()):
        if len(word) < 2 or word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


def rank_by_words(query: str, memories: Sequence[Memory], limit: int) -> list[Memory]:
    """The memories (given oldest first) that share words with ``query``, best first.

    A query word matches a memory's word that is the same or starts with it
    ("tulip" finds "tulips", "birth" finds "birthday"). Memories matching more
    of the query's words come first; among those, the ones whose matching words
    are rarer among ``memories``; then the newest. Memories sharing no word are
    left out; a query with no words at all gets the newest memories.
    """
    wanted = set(words(query))
    if not wanted:
        return newest_first(memories, limit)
    matched = [_matched(wanted, set(words(memory.content))) for memory in memories]
    frequency = Counter(word for found in matched for word in found)
    count = len(memories)

    def rarity(word: str) -> float:
        return math.log(1 + (count - frequency[word] + 0.5) / (frequency[word] + 0.5))

    scored = [
        (len(found), sum(map(rarity, found)), memory.created, position, memory)
        for position, (memory, found) in enumerate(zip(memories, matched))
        if found
    ]
    scored.sort(key=lambda item: item[:4], reverse=True)
    return [item[4] for item in scored[:limit]]


def matching_words(query: str, memories: Sequence[Memory]) -> list[Memory]:
    """Memories containing every word of ``query`` exactly: what may be deleted, so a loose match never deletes."""
    wanted = set(words(query))
    if not wanted:
        return []
    return [memory for memory in memories if wanted <= set(words(memory.content))]


def _matched(wanted: set[str], present: set[str]) -> set[str]:
    return {word for word in wanted if any(other.startswith(word) for other in present)}


class Recall:
    """Ranks memories for a query with the backend's embeddings, falling back to words.

    It owns the cache of vectors of memory texts, and when the backend last
    failed to embed; it never stores or changes a memory.
    """

    def __init__(self, provider: LLMProvider, min_similarity: float = 0.25) -> None:
        self.provider = provider
        self.min_similarity = min_similarity
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._embeddings_failed_at: float | None = None if provider.capabilities.embeddings else math.inf

    @property
    def uses_embeddings(self) -> bool:
        failed = self._embeddings_failed_at
        return failed is None or time.monotonic() - failed > RETRY_EMBEDDINGS_AFTER

    async def rank(self, query: str, memories: Sequence[Memory], limit: int) -> list[Memory]:
        """The ``limit`` memories (given oldest first) that best answer ``query``; the newest for an empty one."""
        if not memories:
            return []
        if not query.strip():
            return newest_first(memories, limit)
        if self.uses_embeddings:
            try:
                return await self._rank_by_meaning(query, memories, limit)
            except LLMError as exc:
                self._embeddings_failed_at = time.monotonic()
                log.info("recall ranks by words: the backend has no embeddings (%s)", exc.message)
        return rank_by_words(query, memories, limit)

    async def _rank_by_meaning(self, query: str, memories: Sequence[Memory], limit: int) -> list[Memory]:
        missing = list(dict.fromkeys(m.content for m in memories if m.content not in self._vectors))
        vectors = await self.provider.embed([query, *missing])
        self._embeddings_failed_at = None
        query_vector = vectors[0]
        for content, vector in zip(missing, vectors[1:]):
            self._vectors[content] = vector
        scored = []
        for memory in memories:
            vector = self._vectors.get(memory.content)
            if vector is None:
                continue
            self._vectors.move_to_end(memory.content)
            similarity = _cosine(query_vector, vector)
            if similarity >= self.min_similarity:
                scored.append((similarity, memory.created, memory))
        while len(self._vectors) > _CACHE_SIZE:
            self._vectors.popitem(last=False)
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        by_meaning = [memory for _, _, memory in scored[:limit]]
        # A word-for-word match is never hidden by an embedding model that misses it.
        for memory in rank_by_words(query, memories, limit):
            if memory not in by_meaning and len(by_meaning) < limit:
                by_meaning.append(memory)
        return by_meaning


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
