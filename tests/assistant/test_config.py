"""config.yaml: the documented default loads, and mistakes name the key and the file."""

from pathlib import Path

import pytest

from assistant.config import REPO_CONFIG, ConfigError, load_config


@pytest.fixture(autouse=True)
def no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the tester's own config and environment out of these tests."""
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    monkeypatch.delenv("ASSISTANT_BACKEND", raising=False)
    monkeypatch.delenv("ASSISTANT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_documented_default_loads_with_the_embedded_backend() -> None:
    config = load_config()
    assert config.source == REPO_CONFIG
    assert config.llm.backend == "local"
    assert config.llm.mlx.base_url == "http://localhost:8080/v1"
    assert config.llm.anthropic.base_url == "https://api.anthropic.com"


def test_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  ollama:\n    temprature: 0.3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "llm.ollama.temprature: unknown key" in message


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  openai:\n    timeout: soon\n")
    with pytest.raises(ConfigError, match=r"llm\.openai\.timeout: .*'soon'"):
        load_config(path)


def test_unknown_backend_lists_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  backend: gpt5\n")
    with pytest.raises(ConfigError, match="unknown backend 'gpt5'; choose one of .*ollama"):
        load_config(path)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  backend: [ollama\n")
    with pytest.raises(ConfigError, match=rf"{path} at line \d+, column \d+: not valid YAML"):
        load_config(path)


def test_missing_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")


def test_environment_then_explicit_overrides_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "llm:\n  backend: ollama\n")
    monkeypatch.setenv("ASSISTANT_BACKEND", "openai")
    assert load_config(path).llm.backend == "openai"
    assert load_config(path, {"llm.backend": "anthropic"}).llm.backend == "anthropic"


def test_assistant_config_env_points_at_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "llm:\n  backend: mlx\n  mlx:\n    base_url: http://127.0.0.1:9999\n")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(path))
    config = load_config()
    assert config.source == path
    assert config.llm.mlx.base_url == "http://127.0.0.1:9999/v1"


def test_data_dir_holds_the_assembled_model(tmp_path: Path) -> None:
    path = write(tmp_path, f"data_dir: {tmp_path / 'data'}\n")
    provider_config = load_config(path).provider_config()
    assert provider_config["llm"]["local"]["cache_dir"] == tmp_path / "data" / "models"
