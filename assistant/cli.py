"""The ``assistant`` command.

    assistant                    the terminal app (``--continue`` resumes the last conversation)
    assistant --plain            a plain line-by-line conversation (also when not on a terminal)
    assistant chat "question"    one answer, streamed to stdout (``-`` reads stdin)
    assistant conversations      list saved conversations; ``show``, ``export`` or ``delete`` one
    assistant models             the configured backend's models
    assistant doctor             what works, what is missing, and how to fix it
    assistant bot                the Rosey chat-bot plugin on NATS, headless
    assistant transcribe FILE    what is said in a recording (wav, flac, mp3)
    assistant say "text" [-o F]  speak text (or write it to a WAV file)
    assistant listen --input IN.wav --output OUT.wav --json [--echo DB] [--turns N]
                                 spoken turns through the voice loop, in a simulated room
    assistant voice              the voice loop on the microphone and speaker, without the app
    assistant wyoming            Whisper, Piper and the assistant for Home Assistant (Wyoming protocol)

Heavy modules are imported inside the commands, so ``assistant --help``
answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm import LLMProvider

    from .config import Config
    from .session import Session


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
    parser.add_argument("--continue", dest="resume", action="store_true", help="continue the last conversation")
    parser.add_argument("--conversation", metavar="ID", help="continue the saved conversation ID")
    parser.add_argument("--plain", action="store_true", help="a plain line-by-line conversation instead of the app")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chat = commands.add_parser("chat", parents=[common], help="answer one question, streamed to stdout")
    chat.add_argument("question", help='the question; "-" reads it from standard input')
    chat.add_argument("--continue", dest="resume", action="store_true", help="ask within the last conversation")
    conversations = commands.add_parser("conversations", parents=[common], help="saved conversations")
    conversations.add_argument("action", nargs="?", default="list", choices=["list", "show", "export", "delete"])
    conversations.add_argument("id", nargs="?", help="conversation id (a unique prefix is enough)")
    conversations.add_argument("-o", "--output", metavar="FILE", help="export: write to FILE instead of stdout")
    commands.add_parser("models", parents=[common], help="list the backend's models")
    commands.add_parser("doctor", parents=[common], help="check the setup and say how to fix what is missing")
    transcribe = commands.add_parser("transcribe", parents=[common], help="print what is said in a recording")
    transcribe.add_argument("file", help="a wav, flac or mp3 file")
    say = commands.add_parser("say", parents=[common], help="speak text, or write it to a WAV file")
    say.add_argument("text", help='what to say; "-" reads it from standard input')
    say.add_argument("-o", "--output", metavar="FILE", help="write a WAV file instead of playing it")
    listen = commands.add_parser(
        "listen", parents=[common], help="spoken turns from a WAV file, answered into one, in a simulated room"
    )
    listen.add_argument("--input", required=True, metavar="IN.wav", help="the person's speech (fed in real time)")
    listen.add_argument("--output", required=True, metavar="OUT.wav", help="what the speaker would have played")
    listen.add_argument("--json", action="store_true", help="print one JSON line per utterance heard")
    echo = listen.add_mutually_exclusive_group()
    echo.add_argument("--echo-ir", metavar="IR.wav", type=Path, help="the room's impulse response, speaker to mic")
    echo.add_argument("--echo", metavar="DB", type=float, help="a small room's echo at DB (0 = as loud as played)")
    listen.add_argument("--echo-delay", metavar="MS", type=float, default=40.0, help="with --echo: its delay (40)")
    listen.add_argument("--turns", metavar="N", type=int, default=1, help="answer N turns (or until input ends)")
    commands.add_parser("voice", parents=[common], help="talk on the microphone and speaker, without the app")
    bot = commands.add_parser("bot", parents=[common], help="run the Rosey chat-bot plugin on NATS, headless")
    bot.add_argument("--nats-url", default=None, help="NATS server URL (overrides rosey.nats_url)")
    wyoming = commands.add_parser("wyoming", parents=[common], help="serve Home Assistant over the Wyoming protocol")
    wyoming.add_argument("--uri", default=None, help="where to listen, e.g. tcp://0.0.0.0:10300 (overrides wyoming.uri)")
    wyoming.add_argument("--no-zeroconf", dest="zeroconf", action="store_false", default=None,
                         help="do not advertise the server for Home Assistant's discovery")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    command = args.command or ("tui" if interactive and not args.plain else "talk")
    gc.disable()  # start-up makes objects that live as long as the process; collecting as it goes is wasted time
    from .config import ConfigError

    try:
        config = _load(args)
    except ConfigError as exc:
        gc.enable()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if command != "tui":
        gc.enable()  # the app turns it back on once its first frame is drawn
    runners = {
        "tui": _tui, "talk": _talk, "chat": _chat, "models": _models, "doctor": _doctor, "bot": _bot,
        "conversations": _conversations, "transcribe": _transcribe, "say": _say, "listen": _listen,
        "voice": _voice, "wyoming": _wyoming,
    }
    try:
        return asyncio.run(runners[command](config, args))
    except KeyboardInterrupt:
        return 130


def _load(args: argparse.Namespace) -> Config:
    from .config import load_config

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


def _session(config: Config) -> Session:
    """A session that saves the conversation like the app does."""
    from .session import Session
    from .store import ConversationStore

    return Session(config, store=ConversationStore.open_default(config.data_dir))


async def _start_tools(session: Session) -> None:
    """Offer the tools when the backend can call them; a tool server that failed is said on stderr."""
    if session.provider.capabilities.tools:
        for problem in await session.start_tools():
            print(f"warning: {problem}", file=sys.stderr)


async def _answer(session: Session, question: str) -> bool:
    """Stream one answer to stdout; False (with the error on stderr) when it failed."""
    from .orchestrator import TurnError, TurnText

    async for event in session.run_turn(question):
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
    session = _session(config)
    if args.resume:
        session.resume()
    try:
        await _start_tools(session)
        return 0 if await _answer(session, question.strip()) else 1
    finally:
        await session.close()


async def _talk(config: Config, args: argparse.Namespace) -> int:
    """A plain line-based conversation; Ctrl-C stops an answer, Ctrl-D or /quit leaves."""
    session = _session(config)
    _resume(session, args)
    print(f"Rosey ({session.backend}: {session.provider.model}). Ask anything; Ctrl-D to leave.", flush=True)
    try:
        await _start_tools(session)
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
            answer = asyncio.ensure_future(_answer(session, line.strip()))
            try:
                await asyncio.shield(answer)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()
                answer.cancel()
                print("\n[stopped]")
    finally:
        await session.close()


def _resume(session: Session, args: argparse.Namespace) -> None:
    """Continue the conversation asked for on the command line; a missing one is said, not fatal."""
    if args.conversation:
        session.resume(args.conversation)
    elif args.resume and not session.resume():
        print("No saved conversation yet: starting a new one.", file=sys.stderr)


def _log_to_file(config: Config) -> Path:
    """Send log records to a file: anything written to stderr would draw over the app."""
    import logging

    log_dir = config.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "assistant.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    return path


async def _tui(config: Config, args: argparse.Namespace) -> int:
    from .tui.app import AssistantApp

    _log_to_file(config)
    resume: str | bool = args.conversation or args.resume
    await AssistantApp(config, resume=resume).run_async()
    return 0


async def _conversations(config: Config, args: argparse.Namespace) -> int:
    from .store import ConversationNotFound, ConversationStore

    store = ConversationStore.open_default(config.data_dir)
    try:
        if args.action == "list":
            for summary in store.list():
                who = f"{summary.backend}/{summary.model}" if summary.backend else "-"
                print(f"{summary.id}  {summary.updated_at:%Y-%m-%d %H:%M}  {summary.message_count:>4} msgs  "
                      f"{who}  {summary.display_title}")
            return 0
        if not args.id:
            print(f"error: `assistant conversations {args.action}` needs a conversation id "
                  "(see `assistant conversations list`)", file=sys.stderr)
            return 2
        conversation_id = store.get(args.id).id
        if args.action == "delete":
            store.delete(conversation_id)
            print(f"deleted {conversation_id}")
        elif args.output:
            Path(args.output).write_text(store.export_markdown(conversation_id), encoding="utf-8")
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(store.export_markdown(conversation_id))
        return 0
    except ConversationNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


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


async def _transcribe(config: Config, args: argparse.Namespace) -> int:
    from audio import AudioError, transcribe_file

    try:
        transcript = await asyncio.to_thread(transcribe_file, args.file, config.audio_settings())
    except AudioError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(transcript.text)
    return 0


async def _say(config: Config, args: argparse.Namespace) -> int:
    from audio import AudioError, say

    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        print("error: nothing to say", file=sys.stderr)
        return 2
    try:
        await say(text, config.audio_settings(), args.output)
    except AudioError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


async def _listen(config: Config, args: argparse.Namespace) -> int:
    import json

    from audio import AudioError

    from .voice.cli import EchoPath, listen

    def show(line: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(line, ensure_ascii=False), flush=True)
        elif line.get("turn"):
            print(f"you: {line['transcript']}\nrosey: {line['reply']}\nfirst audio: {line['first_audio_ms']} ms")
        else:
            print(f"(not a turn: {line.get('reason') or line.get('error')}) {line.get('heard', '')}")

    if args.turns < 1:
        print("error: --turns must be 1 or more", file=sys.stderr)
        return 2
    session = _session(config)
    try:
        echo = EchoPath(args.echo_ir, args.echo, args.echo_delay)
        lines = await listen(config, session, Path(args.input), Path(args.output), echo, args.turns, show)
    except AudioError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await session.close()
    return 0 if any(line["turn"] for line in lines) else 1


async def _voice(config: Config, args: argparse.Namespace) -> int:
    from .voice.cli import voice

    session = _session(config)
    _resume(session, args)
    try:
        await _start_tools(session)
        return await voice(config, session)
    finally:
        await session.close()


async def _bot(config: Config, args: argparse.Namespace) -> int:
    from .rosey.runner import run_bot

    return await run_bot(config, nats_url=args.nats_url)


async def _wyoming(config: Config, args: argparse.Namespace) -> int:
    from .wyoming.server import run_server

    return await run_server(config, uri=args.uri, zeroconf=args.zeroconf)


if __name__ == "__main__":
    sys.exit(main())
