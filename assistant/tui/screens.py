"""Screens over the chat: the help screen and a picker for models and conversations."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from .slash import COMMANDS


class HelpScreen(ModalScreen[None]):
    """The keys (as configured) and the slash commands."""

    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen .heading { text-style: bold; color: $accent; margin: 1 0 0 0; }
    HelpScreen .hint { color: $text-muted; margin: 1 0 0 0; }
    """

    def __init__(self, keys: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        keys = "\n".join(f"  {key:<14} {description}" for key, description in self.keys)
        commands = "\n".join(f"  {usage:<14} {description}" for usage, description in COMMANDS.items())
        with VerticalScroll():
            yield Static("Keys", classes="heading")
            yield Static(keys, markup=False)
            yield Static("Commands (type them in the prompt)", classes="heading")
            yield Static(commands, markup=False)
            yield Static(
                "Keys can be changed in config.yaml under tui.keys. Escape closes this screen.",
                classes="hint", markup=False,
            )


class PickerScreen(ModalScreen[str | None]):
    """Choose one of a list (a model, a saved conversation); dismissed with its id or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical {
        width: 80; max-width: 95%; height: auto; max-height: 80%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    PickerScreen OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, title: str, choices: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*(Option(label, id=choice_id) for choice_id, label in self.choices))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
