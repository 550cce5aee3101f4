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
