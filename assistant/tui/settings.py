"""The `tui:` section of config.yaml: the app's theme and key bindings."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..settings import Section

TUI_ACTIONS = (
    "cancel", "copy_last", "help", "toggle_reasoning", "toggle_theme", "new_conversation", "open_conversation",
    "toggle_mic", "talk",
)
"""The app's actions a key can be bound to in ``tui.keys``."""


class TUISettings(Section):
    """The terminal app: theme and key bindings (Textual key names, e.g. ctrl+y, f1, escape)."""

    theme: str = "textual-dark"
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("keys")
    @classmethod
    def _known_actions(cls, keys: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(keys) - set(TUI_ACTIONS))
        if unknown:
            raise ValueError(f"unknown action {', '.join(unknown)}; the actions are {', '.join(TUI_ACTIONS)}")
        return keys
