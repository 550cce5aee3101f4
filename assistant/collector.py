"""Keeping Python's garbage collector off the objects a long-running process holds from its start."""

from __future__ import annotations

import gc


def keep_out_of_full_collections() -> None:
    """Exempt what the process holds once it is ready from Python's full garbage collections.

    A full collection walks every object alive; with the libraries (and, in the
    app, the model and the widgets) loaded, that stalls the screen for up to
    100 ms while an answer streams, or a bot's reply in the middle of a request.
    What is loaded by now lives as long as the process, so it is collected once,
    then frozen: later full collections walk only what came after.
    """
    gc.collect()
    gc.freeze()


def hold_collections() -> None:
    """No automatic collections while an answer streams.

    A stream makes objects that outlive the young generations (the answer's
    lines), so Python ran a full collection every second or so of a stream:
    10-20 ms each with a few turns on screen, up to 250 ms with a long
    conversation drawn, each one a frame late and a key waiting
    (bench/tui_stream.py). `collect_held` collects what the stream made, once
    the answer is on screen.
    """
    gc.disable()


def collect_held() -> None:
    """Collect what was made while collections were held (the young generations: all of it), then collect
    automatically again. The objects from before it are left to the next automatic full collection."""
    gc.collect(1)
    gc.enable()
