"""The `assistant` command as a user runs it: a real process, real config files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in ("ASSISTANT_CONFIG", "ASSISTANT_BACKEND")}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True, text=True, input=stdin, env={**inherited, **(env or {})}, timeout=300,
    )


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user with no config of their own, whose data goes to a temp dir."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "ASSISTANT_DATA_DIR": str(tmp_path / "data")}


def test_help_answers_without_loading_models_or_http() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "chat" in result.stdout and "doctor" in result.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, assistant.cli; print('llama_cpp' in sys.modules, 'httpx' in sys.modules)"],
        capture_output=True, text=True,
    )
    assert probe.stdout.split() == ["False", "False"]


def scripted_config(tmp_path: Path, scripted_openai) -> Path:
    config = tmp_path / "mlx.yaml"
    config.write_text(f"llm:\n  backend: mlx\n  mlx:\n    base_url: {scripted_openai.base_url}\n")
    return config


def test_chat_answers_with_the_embedded_model_out_of_the_box(user_env: dict[str, str]) -> None:
    """No config, no server: the bundled model answers, and only the answer reaches stdout."""
    result = run("chat", "What is 12 times 7?", env=user_env)
    assert result.returncode == 0, result.stderr
    answer = result.stdout.strip()
    assert answer and "User:" not in answer and "Rosey:" not in answer


def test_chat_prints_the_answer_as_the_backend_wrote_it(
    tmp_path: Path, user_env: dict[str, str], scripted_openai
) -> None:
    scripted_openai.reply("12 times 7 is 84.")
    result = run("--config", str(scripted_config(tmp_path, scripted_openai)), "chat", "What is 12 times 7?",
                 env=user_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "12 times 7 is 84."
    assert scripted_openai.requests[0]["messages"][-1] == {"role": "user", "content": "What is 12 times 7?"}


def test_chat_reads_the_question_from_stdin(tmp_path: Path, user_env: dict[str, str], scripted_openai) -> None:
    scripted_openai.reply("84")
    result = run("--config", str(scripted_config(tmp_path, scripted_openai)), "chat", "-", env=user_env,
                 stdin="What is 12 times 7?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "84"
    assert scripted_openai.requests[0]["messages"][-1]["content"] == "What is 12 times 7?"


def test_a_dead_backend_is_one_clear_line_and_a_failing_exit(tmp_path: Path, user_env: dict[str, str]) -> None:
    port = free_port()
    config = tmp_path / "dead.yaml"
    config.write_text(
        f"llm:\n  backend: ollama\n  ollama:\n    base_url: http://127.0.0.1:{port}\n    max_retries: 0\n"
    )
    result = run("--config", str(config), "chat", "hello", env=user_env)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert error_lines == [
        f"error: cannot reach Ollama at http://127.0.0.1:{port}: is `ollama serve` running? (ConnectError)"
    ]


def test_a_broken_config_names_the_key_and_the_file(tmp_path: Path, user_env: dict[str, str]) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("llm:\n  local:\n    n_ctx: lots\n")
    result = run("--config", str(config), "chat", "hello", env=user_env)
    assert result.returncode == 2
    assert str(config) in result.stderr and "llm.local.n_ctx" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_api_key_names_the_variable(user_env: dict[str, str]) -> None:
    env = {**user_env, "OPENAI_API_KEY": ""}
    result = run("--backend", "openai", "chat", "hello", env=env)
    assert result.returncode == 1
    assert "OPENAI_API_KEY is not set" in result.stderr


def test_models_lists_the_backend_models(user_env: dict[str, str]) -> None:
    result = run("models", env=user_env)
    assert result.returncode == 0
    assert result.stdout.split() == ["gemma-3-270m"]


def test_model_override_applies_to_the_chosen_backend_even_by_its_alias(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    assert run("--model", "my-model", "models", env=user_env).stdout.split() == ["my-model"]

    port = free_port()
    config = tmp_path / "alias.yaml"
    config.write_text(f"llm:\n  local_gpt_oss:\n    base_url: http://127.0.0.1:{port}\n    max_retries: 0\n")
    result = run("--config", str(config), "--backend", "local_gpt_oss", "--model", "my-model", "chat", "hi",
                 env=user_env)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: cannot reach the OpenAI-compatible server at http://127.0.0.1:{port}/v1")


def test_doctor_reports_the_embedded_backend_working(user_env: dict[str, str]) -> None:
    result = run("doctor", env=user_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok  backend local" in result.stdout
    assert "ok  embedded model" in result.stdout


def test_doctor_says_how_to_fix_an_unreachable_backend(tmp_path: Path, user_env: dict[str, str]) -> None:
    config = tmp_path / "dead.yaml"
    config.write_text(f"llm:\n  backend: ollama\n  ollama:\n    base_url: http://127.0.0.1:{free_port()}\n    max_retries: 0\n")
    result = run("--config", str(config), "doctor", env=user_env)
    assert result.returncode == 1
    assert "!!  backend ollama: cannot reach Ollama" in result.stdout
    assert "fix: start it with `ollama serve`" in result.stdout


def test_typed_conversation_answers_each_line_and_ends_on_end_of_input(
    tmp_path: Path, user_env: dict[str, str], scripted_openai
) -> None:
    scripted_openai.reply("84.")
    scripted_openai.reply("Rome.")
    result = run("--config", str(scripted_config(tmp_path, scripted_openai)), env=user_env,
                 stdin="What is 12 times 7?\nAnd the capital of Italy?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("84.") < result.stdout.index("Rome.")
    assert [m["content"] for m in scripted_openai.requests[1]["messages"] if m["role"] != "system"] == [
        "What is 12 times 7?", "84.", "And the capital of Italy?",
    ]


def test_chat_offers_tools_to_a_backend_that_calls_them(
    tmp_path: Path, user_env: dict[str, str], scripted_openai
) -> None:
    scripted_openai.reply(tool_calls=[("calculator", {"expression": "12 * 7"})])
    scripted_openai.reply("12 times 7 is 84.")

    result = run("--config", str(scripted_config(tmp_path, scripted_openai)), "chat", "What is 12 times 7?",
                 env=user_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "12 times 7 is 84."
    assert "calculator" in [tool["function"]["name"] for tool in scripted_openai.requests[0]["tools"]]
    assert scripted_openai.requests[1]["messages"][-1]["content"] == "84"
