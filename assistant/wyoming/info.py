"""What the server tells Home Assistant it offers (the answer to ``describe``), truthfully.

Only what this process really serves is listed: the Whisper model it
transcribes with and the languages that model knows, the Piper voice it
speaks with, the bundled wake words, and the assistant as a conversation
agent.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from wyoming.info import (
    Artifact,
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
    WakeModel,
    WakeProgram,
)

from audio.stt import model_languages
from audio.wakeword import WAKE_WORD_MODELS

from ..config import Config
from .settings import WyomingSettings

FASTER_WHISPER = Attribution(name="SYSTRAN (faster-whisper), OpenAI (Whisper)", url="https://github.com/SYSTRAN/faster-whisper")
PIPER = Attribution(name="Michael Hansen (Piper)", url="https://github.com/OHF-Voice/piper1-gpl")
OPEN_WAKE_WORD = Attribution(name="David Scripka (openWakeWord)", url="https://github.com/dscripka/openWakeWord")
ROSEY = Attribution(name="Rosey Assistant", url="https://pypi.org/project/rosey-assistant/")
T = TypeVar("T", bound=Artifact)


def voice_description(voice_path: Path) -> TtsVoice:
    """A Piper voice as Home Assistant lists it: its name, language and speakers, from its own JSON."""
    config = json.loads(voice_path.with_name(voice_path.name + ".json").read_text(encoding="utf-8"))
    speakers = sorted(config.get("speaker_id_map") or {})
    language = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice", "")
    return _installed(
        TtsVoice, voice_name(voice_path), PIPER, f"Piper voice {voice_name(voice_path)}", config.get("piper_version"),
        languages=[language] if language else [],
        speakers=[TtsVoiceSpeaker(name=speaker) for speaker in speakers] or None,
    )


def voice_name(voice_path: Path) -> str:
    """What a client asks for by name: the voice file's name without ``.onnx``."""
    return voice_path.name.removesuffix(".onnx")


def server_info(config: Config, voice_path: Path | None) -> Info:
    """The ``info`` event's content for the services in ``wyoming.services``."""
    settings: WyomingSettings = config.wyoming
    stt_model = config.audio.stt.model
    info = Info()
    if "asr" in settings.services:
        info.asr.append(_installed(
            AsrProgram, "rosey-whisper", FASTER_WHISPER, "Whisper speech to text (faster-whisper)",
            _version("faster-whisper"), supports_transcript_streaming=True,
            models=[_installed(AsrModel, stt_model, FASTER_WHISPER, f"Whisper {stt_model}",
                               languages=model_languages(stt_model))],
        ))
    if "tts" in settings.services and voice_path is not None:
        info.tts.append(_installed(
            TtsProgram, "rosey-piper", PIPER, "Piper text to speech", _version("piper-tts"),
            voices=[voice_description(voice_path)], supports_synthesize_streaming=True,
        ))
    if "wake" in settings.services:
        info.wake.append(_installed(
            WakeProgram, "rosey-openwakeword", OPEN_WAKE_WORD, "openWakeWord wake words", _version("pyopen-wakeword"),
            models=[_installed(WakeModel, model, OPEN_WAKE_WORD, phrase, languages=["en"], phrase=phrase)
                    for model, phrase in WAKE_WORD_MODELS.items()],
        ))
    if "handle" in settings.services:
        info.handle.append(_installed(
            HandleProgram, "rosey", ROSEY, f"Rosey, the assistant ({config.llm.backend} backend)",
            _version("rosey-assistant"), supports_handled_streaming=True,
            models=[_installed(HandleModel, settings.persona, ROSEY, f"Rosey's {settings.persona} persona",
                               languages=model_languages(stt_model))],
        ))
    return info


def _installed(kind: type[T], name: str, attribution: Attribution, description: str, version: str | None = None,
               **fields: Any) -> T:
    """One program, model or voice this process has installed and serves."""
    return kind(name=name, attribution=attribution, installed=True, description=description, version=version,
                **fields)


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
