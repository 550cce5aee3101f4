"""The Textual app: a chat log, a prompt, and a status bar over one `Session`.

The screen is usable at once: the embedded model and the tool servers start
in a background worker while the person types. Every turn runs in one
exclusive worker, so Escape (cancelling it) stops the answer wherever it is,
and the session keeps what was already said.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from llm import Image

from ..collector import keep_out_of_full_collections
from ..config import Config
from ..events import TurnDone
from ..session import Session
from .chat_log import ChatLog
from .messages import BackendSwitched, ChoiceWanted, StatusChanged, TypedOnEntry
from .prompt import PromptInput
from .screens import HelpScreen, PickerScreen
from .slash_commands import SlashCommands
from .voice_control import Devices, VoiceControl
from .widgets import AssistantMessage, Status, StatusBar

THEMES = ("textual-dark", "textual-light")


class AssistantApp(App[None]):
    """The terminal face of one ``Session``: the screen, the keys, and the workers that run turns.

    It owns the session, the status bar and every worker (warm-up, the running
    turn, commands, the microphone), and answers what its helpers ask with
    messages (``messages``). The helpers own the rest: the chat log what is on
    screen, ``SlashCommands`` the commands and the attachments waiting for the
    next message, ``VoiceControl`` the running voice loop. It must never hand
    itself to a helper nor keep or write their state, and never run a turn
    outside the turn worker: that worker is what Escape cancels.
    """

    TITLE = "Rosey"

    BINDINGS = [
        Binding("escape", "cancel", "Stop", id="cancel", priority=True, tooltip="stop the answer being written"),
        Binding("f2", "copy_last", "Copy answer", id="copy_last", tooltip="copy the last answer to the clipboard"),
        Binding("f1", "help", "Help", id="help", tooltip="this screen"),
        Binding("ctrl+r", "toggle_reasoning", "Thinking", id="toggle_reasoning",
                tooltip="show or hide the thinking of reasoning models"),
        Binding("ctrl+t", "toggle_theme", "Light/dark", id="toggle_theme", tooltip="switch between light and dark"),
        Binding("ctrl+n", "new_conversation", "New", id="new_conversation",
                tooltip="start a new conversation (the old one stays saved)"),
        Binding("ctrl+o", "open_conversation", "Open", id="open_conversation",
                tooltip="continue a saved conversation"),
        Binding("f3", "toggle_mic", "Mic", id="toggle_mic", tooltip="talk instead of typing: microphone on or off"),
        Binding("f4", "talk", "Talk", id="talk", show=False,
                tooltip="push to talk: take your next utterance (voice.mode: push_to_talk)"),
    ]

    def __init__(
        self,
        config: Config,
        session: Session | None = None,
        resume: str | bool = False,
        voice_devices: Devices | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.session = session or Session(config, store=_open_store(config))
        self.resume = resume
        self.chat_log = ChatLog(id="log")
        self.commands = SlashCommands(self.session, self.chat_log)
        self.voice = VoiceControl(self.chat_log, config, self.session, voice_devices)
        self.turn: Worker[None] | None = None
        self.voice_worker: Worker[None] | None = None
        self._status_number = -1  # the last `StatusChanged` shown: an older one arriving after it is dropped
        self.theme_problem = None
        if config.tui.theme in self.available_themes:
            self.theme = config.tui.theme
        else:
            self.theme_problem = (
                f"tui.theme '{config.tui.theme}' is not a theme; choose one of {', '.join(sorted(self.available_themes))}"
            )
        if config.tui.keys:
            self.set_keymap(config.tui.keys)

    def compose(self) -> ComposeResult:
        yield self.chat_log
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.set_status(state="starting")
        resumed = bool(self.resume) and await self.commands.open_conversation(
            None if self.resume is True else str(self.resume)
        )
        if not resumed:
            await self.chat_log.show_notice(
                "Ask anything. Enter sends, Escape stops an answer, F1 shows the keys and commands."
            )
        if self.theme_problem:
            await self.chat_log.show_error(self.theme_problem)
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        gc.enable()  # `assistant` starts the app with it off: start-up only makes what lives as long as the app
        self.warm_up()  # loading the model beside the first frame made it 0.35 s later

    # ------------------------------------------------------------------ status

    def set_status(self, state: str | None = None, last: TurnDone | None = None) -> None:
        """Show the session's backend, model and persona as they are now, with a new state or figures if given."""
        bars = self.query(StatusBar)
        if not bars:
            return  # the app is closing: a late worker (the warm-up, the voice loop's last "idle") has no bar left
        bar = bars.first()
        bar.status = Status(
            backend=self.session.backend,
            model=self.session.provider.model,
            persona=self.session.persona.name,
            state=bar.status.state if state is None else state,
            last=bar.status.last if last is None else last,
        )

    def on_status_changed(self, message: StatusChanged) -> None:
        if message.number > self._status_number:
            self._status_number = message.number
            self.set_status(message.state, message.last)

    @work(exclusive=True, group="warm-up")
    async def warm_up(self) -> None:
        """Load the model and start the tools while the person types."""
        if self.session.model_is_in_process:
            self.set_status(state="loading model…")
            try:
                await self.session.warm_model()
            except Exception as exc:  # noqa: BLE001 - shown to the person, who can switch backend
                await self.chat_log.show_error(f"the model did not load: {exc}")
        self.set_status(state="starting tools…")
        for problem in await self.session.start_tools():
            await self.chat_log.show_error(problem)
        keep_out_of_full_collections()
        if not self.answering:
            self.set_status(state="idle")

    def on_backend_switched(self, message: BackendSwitched) -> None:
        self.warm_up()

    # ------------------------------------------------------------------ turns and commands

    @property
    def answering(self) -> bool:
        return self.turn is not None and not self.turn.is_finished

    async def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        if self.commands.recognizes(event.text):
            self.run_command(event.text)
            return
        if self.answering:
            self.notify("Still answering: wait, or press Escape to stop it.", severity="warning")
            return
        attachments = self.commands.take_attachments()
        await self.chat_log.show_user_message(event.text, attachments.names)
        self.turn = self.run_turn(event.text, attachments.images, attachments.files)

    @work(group="command")
    async def run_command(self, text: str) -> None:
        await self.commands.handle(text)

    @work(exclusive=True, group="turn")
    async def run_turn(self, text: str, images: list[Image], files: list[Path]) -> None:
        view = await self.chat_log.start_answer()
        try:
            async for event in self.session.run_turn(text, images, files):
                await view.show(event)
        except asyncio.CancelledError:
            if self.is_running:  # Escape, not the app closing with its widgets already gone
                await asyncio.shield(view.finish(note="[interrupted]"))
            raise
        finally:
            if self.is_running:  # posted on the log, behind the turn's own status messages
                self.chat_log.post_status(state="idle")

    def on_typed_on_entry(self, message: TypedOnEntry) -> None:
        prompt = self.query_one(PromptInput)
        prompt.focus()
        prompt.insert(message.character)

    def on_choice_wanted(self, message: ChoiceWanted) -> None:
        self.push_screen(PickerScreen(message.title, message.choices), callback=message.choice.set_result)

    # ------------------------------------------------------------------ actions

    def action_cancel(self) -> None:
        if self.answering:
            self.action_stop_answer()
        elif isinstance(self.screen, ModalScreen):
            self.screen.dismiss(None)

    def action_stop_answer(self) -> None:
        """Stop the answer being written, if there is one (``/reset`` asks for this too)."""
        if self.answering and self.turn is not None:
            self.turn.cancel()

    def action_toggle_mic(self) -> None:
        if self.voice_worker is not None and not self.voice_worker.is_finished:
            self.voice_worker.cancel()
            self.notify("Microphone off", timeout=2)
        else:
            self.voice_worker = self.run_voice()

    def action_talk(self) -> None:
        if self.voice.talk():
            self.notify("Listening for your next words", timeout=2)
        else:
            self.notify("Turn the microphone on first (F3).", severity="warning")

    @work(exclusive=True, group="voice")
    async def run_voice(self) -> None:
        await self.voice.run()

    def action_copy_last(self) -> None:
        self.chat_log.copy_last_answer()

    def action_page_log(self, pages: int) -> None:
        self.chat_log.page(pages)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

    def action_toggle_reasoning(self) -> None:
        self.chat_log.toggle_reasoning()

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def action_new_conversation(self) -> None:
        self.run_command("/reset")

    def action_open_conversation(self) -> None:
        self.run_command("/open")

    def last_answer(self) -> AssistantMessage | None:
        return self.chat_log.last_answer()

    def key_help(self) -> list[tuple[str, str]]:
        keymap = self.config.tui.keys
        rows = [(keymap.get(b.id or "", b.key), b.tooltip) for b in self.BINDINGS if isinstance(b, Binding)]
        rows += [
            ("enter", "send the message"),
            ("ctrl+j", "new line in the message"),
            ("up / down", "earlier messages"),
            ("pageup / pagedown", "scroll the conversation while you type"),
            ("ctrl+p", "command palette: backend, model, persona, theme"),
            ("ctrl+c", "copy the selected text (select with the mouse)"),
            ("tab, then c", "focus a message, then copy all of it"),
            ("ctrl+q", "quit"),
        ]
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, command in self.commands.palette():
            yield SystemCommand(title, help_text, partial(self.run_command, command))

    async def on_unmount(self) -> None:
        if self.voice_worker is not None and not self.voice_worker.is_finished:
            self.voice_worker.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await self.voice_worker.wait()
        self.voice.close()
        await self.session.close()
        gc.enable()  # an answer still streaming, or just finished, held the collections (`hold_collections`)


def _open_store(config: Config):
    from ..store import ConversationStore

    return ConversationStore.open_default(config.data_dir)
