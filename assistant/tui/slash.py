"""Slash commands typed in the prompt: parsing and the list the help screen shows.

Kept apart from the app so the grammar is plain data a test can read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SlashCommand:
    name: str
    argument: str


COMMANDS: dict[str, str] = {
    "/backend NAME": "answer with another backend (local, ollama, mlx, openai, anthropic, openrouter)",
    "/model NAME": "use another model of this backend; without NAME, pick from its list",
    "/persona NAME": "answer in another style; without NAME, list them",
    "/reset": "start a new conversation (the old one stays saved)",
    "/open [ID]": "continue a saved conversation; without ID, pick from the list",
    "/image PATH": "attach an image to your next message (vision backends)",
    "/file PATH": "put a text file before your next message",
    "/save [PATH]": "export this conversation as Markdown",
    "/copy [code]": "copy the last answer (or its last code block) to the clipboard",
    "/help": "keys and commands",
    "/quit": "leave",
}

NAMES = frozenset(usage.split()[0] for usage in COMMANDS)


def parse(text: str) -> SlashCommand | None:
    """The command in ``text``, or None when it is an ordinary message.

    A message that only looks like a path ("/usr/bin is ...") is not a command:
    the first word must be a known command name.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    name, _, argument = stripped.partition(" ")
    name = name.lower()
    if name not in NAMES:
        return None
    return SlashCommand(name, argument.strip())


def unknown_command(text: str) -> str | None:
    """An error for ``/something`` that is a single unknown word, else None (it is a message)."""
    stripped = text.strip()
    if stripped.startswith("/") and " " not in stripped and "/" not in stripped[1:] and len(stripped) > 1:
        return f"unknown command {stripped}; type /help for the list"
    return None
