"""Personas: the styles the assistant can answer in.

A built-in persona is a style (brief, technical, playful) added to a base
prompt that says *where* the assistant talks: aloud to one person (the voice
assistant) or in a chat room (the Rosey bot). So "concise" means the same
thing in both places, and the voice prompt's "no Markdown tables" is never
lost by switching persona. A persona defined in config brings its own whole
system prompt, because an operator who writes one means exactly that text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field

from .settings import Section

VOICE_PROMPT = (
    "You are Rosey, a friendly voice assistant. Your answers are spoken aloud, so keep them "
    "short and conversational: one to three sentences, no Markdown tables or lists unless asked."
)

CHAT_ROOM_PROMPT = (
    "You are Rosey, a helpful and friendly chat bot in a CyTube chat room. Several people talk "
    "to you; each of their messages starts with their name. Keep answers short enough for a "
    "chat line, plain text, no Markdown."
)


class PersonaSettings(Section):
    """A persona written in config.yaml (`assistant.personas` or `rosey.personas`)."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_-]+$")
    description: str = ""
    system_prompt: str = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    description: str
    instructions: str
    extends_base: bool = True

    def system_prompt(self, base: str) -> str:
        """The whole system prompt for this persona on top of ``base`` (voice or chat room)."""
        if not self.extends_base:
            return self.instructions
        return f"{base}\n\n{self.instructions}" if self.instructions else base


BUILTIN_PERSONAS: tuple[Persona, ...] = (
    Persona("default", "Friendly, conversational, balanced answers", ""),
    Persona(
        "concise",
        "Brief, to-the-point answers",
        "Be brief: at most two sentences unless more detail is asked for. Friendly but efficient.",
    ),
    Persona(
        "technical",
        "Precise technical explanations, for programming and systems",
        "Help with programming, systems and technical questions. Be precise and accurate; "
        "name exact commands, versions and units.",
    ),
    Persona(
        "creative",
        "Imaginative and playful: stories, jokes, vivid language",
        "Be imaginative and playful: tell stories, make jokes, use vivid language, while still "
        "being helpful.",
    ),
)


class UnknownPersonaError(KeyError):
    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = list(available)
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown persona '{self.name}'; choose one of {', '.join(self.available)}"


class PersonaBook:
    """The built-in personas plus those from config; a config persona may replace a built-in."""

    def __init__(self, custom: Iterable[PersonaSettings] = ()) -> None:
        self._personas = {persona.name: persona for persona in BUILTIN_PERSONAS}
        for settings in custom:
            self._personas[settings.name] = Persona(
                settings.name, settings.description, settings.system_prompt, extends_base=False
            )

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._personas

    def __iter__(self):
        return iter(self._personas.values())

    @property
    def names(self) -> list[str]:
        return list(self._personas)

    def get(self, name: str) -> Persona:
        """The persona called ``name`` (any case); `UnknownPersonaError` lists the valid names."""
        try:
            return self._personas[name.lower()]
        except KeyError:
            raise UnknownPersonaError(name, self._personas) from None
