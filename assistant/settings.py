"""The one base of every settings section the program validates.

Settings models are data: they import no behaviour, so reading config.yaml
stays instant and ``assistant/config.py`` never loads a face (the TUI, the
voice loop, the chat bot) only to validate a file. Each part keeps its section
beside its code: ``assistant/tools/settings.py``, ``assistant/voice/settings.py``,
``assistant/tui/settings.py``, ``assistant/rosey_settings.py``, plus
``llm/settings.py`` and ``audio/settings.py``, which cannot import ``assistant``
and so have their own frozen base.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A section of config.yaml: a misspelt key is an error naming it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")
