"""What the slash commands and the command palette do.

Both lead to the same handlers, so `/backend ollama` and "Backend: ollama" in
the palette behave identically, errors included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from llm import FileInjectionError, Image, LLMError, ProviderFactory, read_text_file

from ..personas import UnknownPersonaError
from ..session import BackendUnavailable, Session
from . import slash
from .chat_log import ChatLog
from .messages import BackendSwitched, ChoiceWanted

Handler = Callable[[str], Awaitable[None]]
"""A command's work, given what was typed after its name."""


@dataclass
class Attachments:
    """What goes with the next message: text files put before it, images sent with it."""

    files: list[Path] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """How the message shows them: the files by name, the images by number."""
        return [path.name for path in self.files] + [f"image {i + 1}" for i in range(len(self.images))]


class SlashCommands:
    """Runs the commands typed in the prompt against the session, showing the outcome in the log.

    It owns the attachments waiting for the next message (``/image``, ``/file``)
    until the app takes them with the message. What only the app can do (a
    picker screen, loading a new backend, help, quitting, stopping the answer)
    it asks for with a message or an ``app.`` action; it never holds the app.
    """

    def __init__(self, session: Session, chat_log: ChatLog) -> None:
        self.session = session
        self.chat_log = chat_log
        self._attachments = Attachments()
        self.handlers: dict[str, Handler] = {
            "/backend": self._backend,
            "/model": self._model,
            "/persona": self._persona,
            "/reset": self._reset,
            "/open": self._open,
            "/image": self._image,
            "/file": self._file,
            "/save": self._save,
            "/copy": self._copy,
            "/help": self._help,
            "/quit": self._quit,
        }
        """Command name to handler: every name in ``slash.COMMANDS`` (the help screen's list) has one."""

    @staticmethod
    def recognizes(text: str) -> bool:
        """Whether ``text`` is for us (a command, or a mistyped one) rather than for the model."""
        return slash.parse(text) is not None or slash.unknown_command(text) is not None

    async def handle(self, text: str) -> None:
        """Run the command in ``text``; runs in a worker, so it may wait for the person to pick."""
        command = slash.parse(text)
        if command is None:
            await self.chat_log.show_error(slash.unknown_command(text) or f"not a command: {text}")
            return
        await self.handlers[command.name](command.argument)

    def palette(self) -> Iterator[tuple[str, str, str]]:
        """The command palette's entries: title, help, and the command each one runs."""
        for backend in ProviderFactory.available_backends():
            yield f"Backend: {backend}", f"answer with {backend}", f"/backend {backend}"
        yield "Model…", "pick a model of the current backend", "/model"
        for persona in self.session.personas:
            yield f"Persona: {persona.name}", persona.description, f"/persona {persona.name}"
        yield "New conversation", "start over; the old one stays saved", "/reset"
        yield "Open conversation…", "continue a saved conversation", "/open"
        yield "Export conversation", "save it as Markdown", "/save"
        yield "Copy last answer", "to the clipboard", "/copy"
        yield "Help", "keys and commands", "/help"

    def take_attachments(self) -> Attachments:
        """What the next message takes with it; the next one after starts with none."""
        taken, self._attachments = self._attachments, Attachments()
        return taken

    async def open_conversation(self, conversation_id: str | None) -> bool:
        """Continue a saved conversation (the latest without an id) and draw it; also how the app resumes.

        False, with the reason in the log, when there was none to continue.
        """
        try:
            found = self.session.resume(conversation_id)
        except KeyError as exc:
            await self.chat_log.show_error(str(exc).strip("'\""))
            return False
        if not found:
            await self.chat_log.show_notice("No saved conversation yet: this is a new one.")
            return False
        saved = self.session.store.messages(self.session.conversation_id)  # all of it: the model sees the last turns
        await self.chat_log.show_conversation([stored.message for stored in saved], self.session.tool_source)
        title = self.session.store.get(self.session.conversation_id).display_title
        await self.chat_log.show_notice(f"Continuing “{title}”.")
        self.chat_log.post_status()
        return True

    # ------------------------------------------------------------------ the handlers

    async def _backend(self, name: str) -> None:
        if not name:
            names = ", ".join(ProviderFactory.available_backends())
            await self.chat_log.show_notice(f"Backend: {self.session.backend}. Available: {names}.")
            return
        await self._switch(name, None)

    async def _model(self, name: str) -> None:
        if name:
            await self._switch(self.session.backend, name)
            return
        try:
            models = await self.session.models()
        except LLMError as exc:
            await self.chat_log.show_error(exc.message)
            return
        if not models:
            await self.chat_log.show_notice(f"{self.session.backend} lists no models; use /model NAME.")
            return
        choice = await self._pick("Pick a model", [(m, m) for m in models])
        if choice:
            await self._switch(self.session.backend, choice)

    async def _switch(self, backend: str, model: str | None) -> None:
        self.chat_log.post_status(state=f"connecting to {backend}…")
        try:
            await self.session.switch_backend(backend, model)
        except BackendUnavailable as exc:
            await self.chat_log.show_error(f"{exc} — still using {self.session.backend}.")
            self.chat_log.post_status(state="idle")
            return
        await self.chat_log.show_notice(f"Now answering with {self.session.backend}: {self.session.provider.model}.")
        self.chat_log.post_message(BackendSwitched())

    async def _persona(self, name: str) -> None:
        if not name:
            described = "; ".join(f"{p.name} ({p.description})" for p in self.session.personas)
            await self.chat_log.show_notice(f"Persona: {self.session.persona.name}. Available: {described}.")
            return
        try:
            persona = self.session.set_persona(name)
        except UnknownPersonaError as exc:
            await self.chat_log.show_error(str(exc))
            return
        await self.chat_log.show_notice(f"Persona set to {persona.name}.")
        self.chat_log.post_status()

    async def _reset(self, argument: str) -> None:
        await self.chat_log.run_action("app.stop_answer")
        self.session.reset()
        await self.chat_log.start_over()
        await self.chat_log.show_notice("New conversation.")

    async def _open(self, conversation_id: str) -> None:
        store = self.session.store
        if store is None:
            await self.chat_log.show_error("conversations are not being saved in this session")
            return
        if not conversation_id:
            choices = [
                (c.id, f"{c.updated_at:%Y-%m-%d %H:%M}  {c.title}  ({c.message_count} messages)")
                for c in store.list()
            ]
            if not choices:
                await self.chat_log.show_notice("No saved conversations yet.")
                return
            conversation_id = await self._pick("Open a conversation", choices)
            if not conversation_id:
                return
        await self.open_conversation(conversation_id)

    async def _image(self, path: str) -> None:
        if not path:
            await self.chat_log.show_error("usage: /image PATH")
            return
        try:
            image = Image.from_path(Path(path).expanduser())
        except (OSError, ValueError) as exc:
            await self.chat_log.show_error(f"cannot attach {path}: {exc}")
            return
        if not self.session.provider.capabilities.vision:
            await self.chat_log.show_error(
                f"{self.session.backend} cannot see images; /backend ollama, openai, anthropic or openrouter can"
            )
            return
        self._attachments.images.append(image)
        await self.chat_log.show_notice(f"Image {path} will go with your next message.")

    async def _file(self, path: str) -> None:
        if not path:
            await self.chat_log.show_error("usage: /file PATH")
            return
        try:
            read_text_file(path)
        except FileInjectionError as exc:
            await self.chat_log.show_error(str(exc))
            return
        self._attachments.files.append(Path(path).expanduser())
        await self.chat_log.show_notice(f"{path} will go before your next message.")

    async def _save(self, path: str) -> None:
        store, conversation_id = self.session.store, self.session.conversation_id
        if store is None or conversation_id is None:
            await self.chat_log.show_error("nothing to export yet: ask something first")
            return
        target = Path(path or f"rosey-{conversation_id}.md").expanduser()
        try:
            target.write_text(store.export_markdown(conversation_id), encoding="utf-8")
        except OSError as exc:
            await self.chat_log.show_error(f"cannot write {target}: {exc.strerror}")
            return
        await self.chat_log.show_notice(f"Saved as {target.resolve()}.")

    async def _copy(self, what: str) -> None:
        if what == "code":
            await self.chat_log.copy_last_code()
        else:
            self.chat_log.copy_last_answer()

    async def _help(self, argument: str) -> None:
        await self.chat_log.run_action("app.help")

    async def _quit(self, argument: str) -> None:
        await self.chat_log.run_action("app.quit")

    async def _pick(self, title: str, choices: list[tuple[str, str]]) -> str | None:
        wanted = ChoiceWanted(title, choices)
        self.chat_log.post_message(wanted)
        return await wanted.choice
