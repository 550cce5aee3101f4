"""What the server tells Home Assistant it offers (the answer to ``describe``), truthfully.

Only what this process really serves is listed: the Whisper model it
transcribes with and the languages that model knows, the Piper voice it
speaks with, and the assistant as a conversation agent.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
)

from audio.stt import model_languages

from ..config import Config
from .settings import WyomingSettings

FASTER_WHISPER = Attribution(name="SYSTRAN (faster-whisper), OpenAI (Whisper)", url="https://github.com/SYSTRAN/faster-whisper")
PIPER = Attribution(name="Michael Hansen (Piper)", url="https://github.com/OHF-Voice/piper1-gpl")
ROSEY = Attribution(name="Rosey Assistant", url="https://pypi.org/project/rosey-assistant/")


def voice_description(voice_path: Path) -> TtsVoice:
    """A Piper voice as Home Assistant lists it: its name, language and speakers, from its own JSON."""
    config = json.loads(voice_path.with_name(voice_path.name + ".json").read_text(encoding="utf-8"))
    speakers = sorted(config.get("speaker_id_map") or {})
    language = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice", "")
    return TtsVoice(
        name=voice_name(voice_path),
        attribution=PIPER,
        installed=True,
        description=f"Piper voice {voice_name(voice_path)}",
        version=config.get("piper_version"),
        languages=[language] if language else [],
        speakers=[TtsVoiceSpeaker(name=speaker) for speaker in speakers] or None,
    )


def voice_name(voice_path: Path) -> str:
    """What a client asks for by name: the voice file's name without ``.onnx``."""
    return voice_path.name.removesuffix(".onnx")


def server_info(config: Config, voice_path: Path | None) -> Info:
    """The ``info`` event's content for the services in ``wyoming.services``."""
    settings: WyomingSettings = config.wyoming
    info = Info()
    if "asr" in settings.services:
        model = config.audio.stt.model
        info.asr.append(AsrProgram(
            name="rosey-whisper",
            attribution=FASTER_WHISPER,
            installed=True,
            description="Whisper speech to text (faster-whisper)",
            version=_version("faster-whisper"),
            models=[AsrModel(
                name=model,
                attribution=FASTER_WHISPER,
                installed=True,
                description=f"Whisper {model}",
                version=None,
                languages=model_languages(model),
            )],
        ))
    if "tts" in settings.services and voice_path is not None:
        info.tts.append(TtsProgram(
            name="rosey-piper",
            attribution=PIPER,
            installed=True,
            description="Piper text to speech",
            version=_version("piper-tts"),
            voices=[voice_description(voice_path)],
            supports_synthesize_streaming=True,
        ))
    if "handle" in settings.services:
        info.handle.append(HandleProgram(
            name="rosey",
            attribution=ROSEY,
            installed=True,
            description=f"Rosey, the assistant ({config.llm.backend} backend)",
            version=_version("rosey-assistant"),
            models=[HandleModel(
                name=settings.persona,
                attribution=ROSEY,
                installed=True,
                description=f"Rosey's {settings.persona} persona",
                version=None,
                languages=model_languages(config.audio.stt.model),
            )],
        ))
    return info


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
