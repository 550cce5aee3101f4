"""What the slash commands and the command palette do.

Both lead to the same methods, so `/backend ollama` and "Backend: ollama" in
the palette behave identically, errors included.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from llm import Image, LLMError, ProviderFactory

from ..personas import UnknownPersonaError
from ..session import BackendUnavailable
from . import slash
from .screens import PickerScreen

if TYPE_CHECKING:
    from .app import AssistantApp


class SlashCommands:
    def __init__(self, app: AssistantApp) -> None:
        self.app = app

    @property
    def session(self):
        return self.app.session

    @staticmethod
    def recognizes(text: str) -> bool:
        """Whether ``text`` is for us (a command, or a mistyped one) rather than for the model."""
        return slash.parse(text) is not None or slash.unknown_command(text) is not None

    async def handle(self, text: str) -> None:
        """Run the command in ``text``; runs in a worker, so it may wait for a picker."""
        command = slash.parse(text)
        if command is None:
            await self.app.show_error(slash.unknown_command(text) or f"not a command: {text}")
            return
        handler = getattr(self, "_" + command.name[1:])
        await handler(command.argument)

    def palette(self) -> Iterator[SystemCommand]:
        for backend in ProviderFactory.available_backends():
            yield SystemCommand(f"Backend: {backend}", f"answer with {backend}", partial(self._run, "/backend", backend))
        yield SystemCommand("Model…", "pick a model of the current backend", partial(self._run, "/model", ""))
        for persona in self.session.personas:
            yield SystemCommand(f"Persona: {persona.name}", persona.description, partial(self._run, "/persona", persona.name))
        yield SystemCommand("New conversation", "start over; the old one stays saved", partial(self._run, "/reset", ""))
        yield SystemCommand("Open conversation…", "continue a saved conversation", partial(self._run, "/open", ""))
        yield SystemCommand("Export conversation", "save it as Markdown", partial(self._run, "/save", ""))
        yield SystemCommand("Copy last answer", "to the clipboard", self.app.action_copy_last)
        yield SystemCommand("Help", "keys and commands", self.app.action_help)

    def _run(self, name: str, argument: str) -> None:
        self.app.run_command(f"{name} {argument}".strip())

    # ------------------------------------------------------------------ the commands

    async def _backend(self, name: str) -> None:
        if not name:
            names = ", ".join(ProviderFactory.available_backends())
            await self.app.show_notice(f"Backend: {self.session.backend}. Available: {names}.")
            return
        await self._switch(name, None)

    async def _model(self, name: str) -> None:
        if name:
            await self._switch(self.session.backend, name)
            return
        try:
            models = await self.session.models()
        except LLMError as exc:
            await self.app.show_error(exc.message)
            return
        if not models:
            await self.app.show_notice(f"{self.session.backend} lists no models; use /model NAME.")
            return
        choice = await self.app.push_screen_wait(PickerScreen("Pick a model", [(m, m) for m in models]))
        if choice:
            await self._switch(self.session.backend, choice)

    async def _switch(self, backend: str, model: str | None) -> None:
        self.app.set_status(state=f"connecting to {backend}…")
        try:
            await self.session.switch_backend(backend, model)
        except BackendUnavailable as exc:
            await self.app.show_error(f"{exc} — still using {self.session.backend}.")
        else:
            await self.app.show_notice(f"Now answering with {self.session.backend}: {self.session.provider.model}.")
            self.app.warm_up()
        self.app.set_status(state="idle")

    async def _persona(self, name: str) -> None:
        if not name:
            described = "; ".join(f"{p.name} ({p.description})" for p in self.session.personas)
            await self.app.show_notice(f"Persona: {self.session.persona.name}. Available: {described}.")
            return
        try:
            persona = self.session.set_persona(name)
        except UnknownPersonaError as exc:
            await self.app.show_error(str(exc))
            return
        await self.app.show_notice(f"Persona set to {persona.name}.")
        self.app.set_status()

    async def _reset(self, argument: str) -> None:
        if self.app.turn is not None and not self.app.turn.is_finished:
            self.app.turn.cancel()
        self.session.reset()
        await self.app.log_view.remove_children()
        await self.app.show_notice("New conversation.")

    async def _open(self, conversation_id: str) -> None:
        store = self.session.store
        if store is None:
            await self.app.show_error("conversations are not being saved in this session")
            return
        if not conversation_id:
            choices = [
                (c.id, f"{c.updated_at:%Y-%m-%d %H:%M}  {c.title}  ({c.message_count} messages)")
                for c in store.list()
            ]
            if not choices:
                await self.app.show_notice("No saved conversations yet.")
                return
            conversation_id = await self.app.push_screen_wait(PickerScreen("Open a conversation", choices))
            if not conversation_id:
                return
        await self.app.open_conversation(conversation_id)

    async def _image(self, path: str) -> None:
        if not path:
            await self.app.show_error("usage: /image PATH")
            return
        try:
            image = Image.from_path(Path(path).expanduser())
        except (OSError, ValueError) as exc:
            await self.app.show_error(f"cannot attach {path}: {exc}")
            return
        if not self.session.provider.capabilities.vision:
            await self.app.show_error(
                f"{self.session.backend} cannot see images; /backend ollama, openai, anthropic or openrouter can"
            )
            return
        self.app.images.append(image)
        await self.app.show_notice(f"Image {path} will go with your next message.")

    async def _file(self, path: str) -> None:
        from llm import FileInjectionError, read_text_file

        if not path:
            await self.app.show_error("usage: /file PATH")
            return
        try:
            read_text_file(path)
        except FileInjectionError as exc:
            await self.app.show_error(str(exc))
            return
        self.app.attachments.append(Path(path).expanduser())
        await self.app.show_notice(f"{path} will go before your next message.")

    async def _save(self, path: str) -> None:
        store, conversation_id = self.session.store, self.session.conversation_id
        if store is None or conversation_id is None:
            await self.app.show_error("nothing to export yet: ask something first")
            return
        target = Path(path or f"rosey-{conversation_id}.md").expanduser()
        try:
            target.write_text(store.export_markdown(conversation_id), encoding="utf-8")
        except OSError as exc:
            await self.app.show_error(f"cannot write {target}: {exc.strerror}")
            return
        await self.app.show_notice(f"Saved as {target.resolve()}.")

    async def _copy(self, what: str) -> None:
        answer = self.app.last_answer()
        if what == "code":
            code = answer.last_code_block() if answer else None
            if code is None:
                await self.app.show_error("the last answer has no code block")
                return
            self.app.copy_to_clipboard(code)
            self.app.notify("Code copied to the clipboard", timeout=2)
        else:
            self.app.action_copy_last()

    async def _help(self, argument: str) -> None:
        self.app.action_help()

    async def _quit(self, argument: str) -> None:
        self.app.exit()
