"""The ``assistant`` command.

    assistant                    talk to the assistant (typed, line by line)
    assistant chat "question"    one answer, streamed to stdout (``-`` reads stdin)
    assistant models             the configured backend's models
    assistant doctor             what works, what is missing, and how to fix it
    assistant bot                the Rosey chat-bot plugin on NATS, headless

Heavy modules are imported inside the commands, so ``assistant --help``
answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from llm import LLMProvider

    from .orchestrator import Orchestrator


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file to use")
    common.add_argument(
        "--backend", default=argparse.SUPPRESS, help="LLM backend (local, ollama, mlx, openai, anthropic, openrouter)"
    )
    common.add_argument("--model", default=argparse.SUPPRESS, help="model name for the backend")

    parser = argparse.ArgumentParser(
        prog="assistant", description="Rosey, a local-first voice assistant.", parents=[common]
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chat = commands.add_parser("chat", parents=[common], help="answer one question, streamed to stdout")
    chat.add_argument("question", help='the question; "-" reads it from standard input')
    commands.add_parser("models", parents=[common], help="list the backend's models")
    commands.add_parser("doctor", parents=[common], help="check the setup and say how to fix what is missing")
    bot = commands.add_parser("bot", parents=[common], help="run the Rosey chat-bot plugin on NATS, headless")
    bot.add_argument("--nats-url", default=None, help="NATS server URL (overrides rosey.nats_url)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = args.command or "talk"
    runners = {"talk": _talk, "chat": _chat, "models": _models, "doctor": _doctor, "bot": _bot}
    try:
        return asyncio.run(runners[command](config, args))
    except KeyboardInterrupt:
        return 130


def _load(args: argparse.Namespace) -> Config:
    path = getattr(args, "config", None)
    overrides = {}
    if backend := getattr(args, "backend", None):
        overrides["llm.backend"] = backend
    config = load_config(path, overrides)
    if model := getattr(args, "model", None):
        overrides[f"llm.{config.llm.backend}.model"] = model
        config = load_config(path, overrides)
    return config


def _provider(config: Config) -> LLMProvider:
    from llm import ProviderFactory

    return ProviderFactory.create_from_config(config.provider_config())


def _orchestrator(config: Config) -> Orchestrator:
    from llm import ConversationContext

    from .orchestrator import Orchestrator

    context = ConversationContext(max_turns=config.assistant.max_turns, system_message=config.assistant.system_prompt)
    return Orchestrator(_provider(config), context)


async def _answer(orchestrator: Orchestrator, question: str) -> bool:
    """Stream one answer to stdout; False (with the error on stderr) when it failed."""
    from .orchestrator import TurnError, TurnText

    async for event in orchestrator.run_turn(question):
        if isinstance(event, TurnText):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, TurnError):
            sys.stdout.write("\n")
            print(f"error: {event.message}", file=sys.stderr)
            return False
    sys.stdout.write("\n")
    sys.stdout.flush()
    return True


async def _chat(config: Config, args: argparse.Namespace) -> int:
    question = sys.stdin.read() if args.question == "-" else args.question
    if not question.strip():
        print("error: the question is empty", file=sys.stderr)
        return 2
    orchestrator = _orchestrator(config)
    try:
        return 0 if await _answer(orchestrator, question.strip()) else 1
    finally:
        await orchestrator.provider.close()


async def _talk(config: Config, args: argparse.Namespace) -> int:
    """A plain line-based conversation; Ctrl-C stops an answer, Ctrl-D or /quit leaves."""
    orchestrator = _orchestrator(config)
    backend = config.llm.backend
    print(f"Rosey ({backend}: {orchestrator.provider.model}). Ask anything; Ctrl-D to leave.", flush=True)
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                print()
                return 0
            if line.strip() in ("/quit", "/exit"):
                return 0
            if not line.strip():
                continue
            sys.stdout.write("rosey> ")
            answer = asyncio.ensure_future(_answer(orchestrator, line.strip()))
            try:
                await asyncio.shield(answer)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()
                answer.cancel()
                print("\n[stopped]")
    finally:
        await orchestrator.provider.close()


async def _models(config: Config, args: argparse.Namespace) -> int:
    from llm import LLMError

    provider = _provider(config)
    try:
        for name in await provider.list_models():
            print(name)
    except LLMError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await provider.close()
    return 0


async def _doctor(config: Config, args: argparse.Namespace) -> int:
    from .doctor import run_checks

    return await run_checks(config)


async def _bot(config: Config, args: argparse.Namespace) -> int:
    from .rosey.runner import run_bot

    return await run_bot(config, nats_url=args.nats_url)


if __name__ == "__main__":
    sys.exit(main())
