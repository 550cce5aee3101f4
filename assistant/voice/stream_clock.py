"""The microphone's stream time on the event loop's clock."""

from __future__ import annotations

import time


class StreamClock:
    """Maps the microphone's stream time to the event loop's clock.

    Frame k of a live (or paced) input cannot arrive before its last sample
    was recorded, so the earliest arrival minus its duration is the best
    estimate of when the stream began.
    """

    def __init__(self) -> None:
        self.origin = float("inf")
        self.samples = 0
        self.rate = 16_000

    @property
    def heard(self) -> float:
        """Stream seconds heard so far."""
        return self.samples / self.rate

    def frame_arrived(self, samples: int, rate: int) -> None:
        self.rate = rate
        self.samples += samples
        self.origin = min(self.origin, time.monotonic() - self.samples / rate)

    def wall(self, stream_seconds: float) -> float:
        return self.origin + stream_seconds
