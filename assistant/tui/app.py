"""The Textual app: a chat log, a prompt, and a status bar over one `Session`.

The screen is usable at once: the embedded model and the tool servers start
in a background worker while the person types. Every turn runs in one
exclusive worker, so Escape (cancelling it) stops the answer wherever it is,
and the session keeps what was already said.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer
from textual.worker import Worker

from llm import Image

from ..config import Config
from ..events import ToolStarted
from ..session import Session
from ..voice import VoiceLoop
from .commands import SlashCommands
from .prompt import PromptInput
from .screens import HelpScreen
from .turn_view import TurnView
from .voice_control import Devices, VoiceControl
from .widgets import (
    AssistantMessage,
    ErrorNote,
    Notice,
    Status,
    StatusBar,
    ToolCallEntry,
    UserMessage,
)

THEMES = ("textual-dark", "textual-light")


class AssistantApp(App[None]):
    TITLE = "Rosey"

    CSS = """
    #log { height: 1fr; padding: 0 1; }
    """

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
        self.voice = VoiceControl(self, voice_devices)
        self.voice_worker: Worker[None] | None = None
        self.voice_loop: VoiceLoop | None = None
        self.config = config
        self.session = session or Session(config, store=_open_store(config))
        self.resume = resume
        self.attachments: list[Path] = []
        self.images: list[Image] = []
        self.turn: Worker[None] | None = None
        self.commands = SlashCommands(self)
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
        yield VerticalScroll(id="log")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#log", VerticalScroll).anchor()
        self.query_one(PromptInput).focus()
        self.set_status(state="starting")
        await self.show_notice("Ask anything. Enter sends, Escape stops an answer, F1 shows the keys and commands.")
        if self.theme_problem:
            await self.show_error(self.theme_problem)
        if self.resume:
            await self.open_conversation(None if self.resume is True else str(self.resume))
        self.warm_up()

    # ------------------------------------------------------------------ status

    def set_status(self, **changes) -> None:
        bar = self.query_one(StatusBar)
        current = bar.status
        values = {
            "backend": self.session.backend,
            "model": self.session.provider.model,
            "persona": self.session.persona.name,
            "state": current.state,
            "last": current.last,
            "note": current.note,
        }
        values.update(changes)
        bar.status = Status(**values)

    @work(exclusive=True, group="warm-up")
    async def warm_up(self) -> None:
        """Load the model and start the tools while the person types."""
        provider = self.session.provider
        if hasattr(provider, "load"):
            self.set_status(state="loading model…")
            try:
                await provider.load()
            except Exception as exc:  # noqa: BLE001 - shown to the person, who can switch backend
                await self.show_error(f"the model did not load: {exc}")
        self.set_status(state="starting tools…")
        for problem in await self.session.start_tools():
            await self.show_error(problem)
        if self.turn is None or self.turn.is_finished:
            self.set_status(state="idle")

    # ------------------------------------------------------------------ the log

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#log", VerticalScroll)

    async def show_error(self, message: str) -> None:
        await self.log_view.mount(ErrorNote(message))

    async def show_notice(self, message: str) -> None:
        await self.log_view.mount(Notice(message))

    def last_answer(self) -> AssistantMessage | None:
        answers = self.query(AssistantMessage)
        return answers.last() if answers else None

    async def show_conversation(self) -> None:
        """Draw the session's conversation (after resuming one) from its context."""
        from llm import MessageRole

        await self.log_view.remove_children()
        answer: AssistantMessage | None = None
        tool_entries: dict[str, ToolCallEntry] = {}
        for message in self.session.context.get_messages():
            if message.role is MessageRole.USER:
                answer = None
                await self.log_view.mount(UserMessage(message.content))
            elif message.role is MessageRole.ASSISTANT:
                if answer is None:
                    answer = AssistantMessage()
                    await self.log_view.mount(answer)
                if message.content:
                    await answer.append(message.content)
                for call in message.tool_calls or []:
                    started = ToolStarted(call, self.session.tool_source(call.name))
                    tool_entries[call.id] = await answer.tool_started(started)
            elif message.role is MessageRole.TOOL and message.tool_call_id in tool_entries:
                tool_entries[message.tool_call_id].show_result(message.content)
        for answer in self.query(AssistantMessage):
            await answer.finish()

    # ------------------------------------------------------------------ turns

    async def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        if self.commands.recognizes(event.text):
            self.run_command(event.text)
            return
        if self.turn is not None and not self.turn.is_finished:
            self.notify("Still answering: wait, or press Escape to stop it.", severity="warning")
            return
        files, images = self.attachments, self.images
        self.attachments, self.images = [], []
        names = [path.name for path in files] + [f"image {i + 1}" for i in range(len(images))]
        await self.log_view.mount(UserMessage(event.text, names))
        self.turn = self.run_turn(event.text, images, files)

    @work(group="command")
    async def run_command(self, text: str) -> None:
        await self.commands.handle(text)

    @work(exclusive=True, group="turn")
    async def run_turn(self, text: str, images: list[Image], files: list[Path]) -> None:
        view = await TurnView.start(self)
        self.set_status(state="thinking")
        try:
            async for event in self.session.run_turn(text, images, files):
                await view.show(event)
        except asyncio.CancelledError:
            if self.is_running:  # Escape, not the app closing with its widgets already gone
                await asyncio.shield(view.finish(note="[interrupted]"))
            raise
        finally:
            if self.is_running:
                self.set_status(state="idle")

    # ------------------------------------------------------------------ actions

    def action_cancel(self) -> None:
        if self.turn is not None and not self.turn.is_finished:
            self.turn.cancel()
        elif isinstance(self.screen, ModalScreen):
            self.screen.dismiss(None)

    def action_toggle_mic(self) -> None:
        if self.voice_worker is not None and not self.voice_worker.is_finished:
            self.voice_worker.cancel()
            self.notify("Microphone off", timeout=2)
        else:
            self.voice_worker = self.run_voice()

    def action_talk(self) -> None:
        if self.voice_loop is None:
            self.notify("Turn the microphone on first (F3).", severity="warning")
        else:
            self.voice_loop.arm_push_to_talk()
            self.notify("Listening for your next words", timeout=2)

    @work(exclusive=True, group="voice")
    async def run_voice(self) -> None:
        await self.voice.run()

    def action_copy_last(self) -> None:
        answer = self.last_answer()
        if answer is None or not answer.text:
            self.notify("There is no answer to copy yet.", severity="warning")
            return
        self.copy_to_clipboard(answer.text)
        self.notify("Answer copied to the clipboard", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

    def action_toggle_reasoning(self) -> None:
        for answer in self.query(AssistantMessage):
            answer.thinking.collapsed = not answer.thinking.collapsed

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def action_new_conversation(self) -> None:
        self.run_command("/reset")

    def action_open_conversation(self) -> None:
        self.run_command("/open")

    async def open_conversation(self, conversation_id: str | None) -> None:
        try:
            found = self.session.resume(conversation_id)
        except KeyError as exc:
            await self.show_error(str(exc).strip("'\""))
            return
        if found:
            await self.show_conversation()
            title = self.session.store.get(self.session.conversation_id).display_title
            await self.show_notice(f"Continuing “{title}”.")
            self.set_status()
        else:
            await self.show_notice("No saved conversation yet: this is a new one.")

    def key_help(self) -> list[tuple[str, str]]:
        keymap = self.config.tui.keys
        rows = [(keymap.get(b.id or "", b.key), b.tooltip) for b in self.BINDINGS if isinstance(b, Binding)]
        rows += [
            ("enter", "send the message"),
            ("ctrl+j", "new line in the message"),
            ("up / down", "earlier messages"),
            ("ctrl+p", "command palette: backend, model, persona, theme"),
            ("ctrl+c", "copy the selected text (select with the mouse)"),
            ("tab, then c", "focus a message, then copy all of it"),
            ("ctrl+q", "quit"),
        ]
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from self.commands.palette()

    async def on_unmount(self) -> None:
        await self.session.close()


def _open_store(config: Config):
    from ..store import ConversationStore

    return ConversationStore.open_default(config.data_dir)
