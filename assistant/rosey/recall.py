"""Which memories answer a query: by meaning when the backend has embeddings, else by the words.

Vectors are a cache, not data: they are computed from the memory's text by
the current backend and kept in this process, so a memory added by another
bot process, or stored before the embedding model changed, is simply
embedded on first use. A backend that cannot embed (most llama.cpp servers
are started without ``--embedding``) is asked again only after a pause, and
recall meanwhile ranks by words, so it always answers.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence

from llm import LLMError, LLMProvider

from .store import Memory

log = logging.getLogger("assistant.rosey")

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
    """Lower-case words without stop words, plural "s" dropped so "cats" finds "cat"."""
    found = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


def rank_by_words(query: str, memories: Sequence[Memory], limit: int) -> list[Memory]:
    """BM25 over the channel's memories: rare words that match count most. Memories sharing no word are left out."""
    wanted = set(words(query))
    if not wanted:
        return newest(memories, limit)
    documents = [Counter(words(memory.content)) for memory in memories]
    average = sum(sum(doc.values()) for doc in documents) / max(len(documents), 1) or 1.0
    document_frequency = Counter(word for doc in documents for word in set(doc) & wanted)
    scored = []
    for memory, doc in zip(memories, documents):
        length = sum(doc.values())
        score = 0.0
        for word in wanted & set(doc):
            idf = math.log(1 + (len(documents) - document_frequency[word] + 0.5) / (document_frequency[word] + 0.5))
            tf = doc[word]
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        if score > 0:
            scored.append((score, memory.created, memory))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [memory for _, _, memory in scored[:limit]]


def matching_words(query: str, memories: Sequence[Memory]) -> list[Memory]:
    """Memories containing every word of ``query``: what `forget` deletes, so a fuzzy match never deletes."""
    wanted = set(words(query))
    if not wanted:
        return []
    return [memory for memory in memories if wanted <= set(words(memory.content))]


def newest(memories: Sequence[Memory], limit: int) -> list[Memory]:
    return sorted(memories, key=lambda memory: memory.created, reverse=True)[:limit]


class Recall:
    """Ranks memories for a query with the backend's embeddings, falling back to words."""

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
        if not memories:
            return []
        if not query.strip():
            return newest(memories, limit)
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
