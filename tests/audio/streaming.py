"""Text cut into deltas the way a model streams it, for tests of what must not depend on the cut."""

from __future__ import annotations

import random


def deltas(text: str, pieces: str, seed: int = 0) -> list[str]:
    """``text`` in ``pieces``: "whole", "characters", or "tokens" of 1 to 7 characters drawn from ``seed``."""
    if pieces == "characters":
        return list(text)
    if pieces == "whole":
        return [text]
    rng, cut, i = random.Random(seed), [], 0
    while i < len(text):
        size = rng.randint(1, 7)
        cut.append(text[i : i + size])
        i += size
    return cut
