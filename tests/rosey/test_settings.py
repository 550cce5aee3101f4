"""The `rosey:` section of config.yaml: mistakes are named with their key and fix."""

from __future__ import annotations

import pytest

from assistant.config import ConfigError, load_config
from assistant.rosey.plugin import resolve_config


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"rosey.nats_url": "127.0.0.1:4222"}, "'127.0.0.1:4222' is not a NATS URL; write it like nats://127.0.0.1:4222"),
        ({"rosey.default_persona": "pirate"}, "unknown persona 'pirate'; choose one of default, concise"),
        ({"rosey.memory.backend": "redis"}, "rosey.memory.backend"),
        ({"rosey.rate_limits.requests_per_minute": -1}, "rosey.rate_limits.requests_per_minute"),
        ({"rosey.max_concurent": 4}, "rosey.max_concurent: unknown key"),
    ],
)
def test_a_wrong_rosey_setting_is_named(overrides, problem) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides)
    assert problem in str(error.value)


def test_a_host_may_pass_only_the_rosey_section() -> None:
    config = resolve_config({"nats_url": "nats://10.0.0.5:4222", "max_messages": 2})

    assert config.rosey.nats_url == "nats://10.0.0.5:4222" and config.rosey.max_messages == 2
    assert config.llm.backend  # the rest comes from config.yaml as usual


def test_a_host_passing_a_bad_section_gets_the_key_named() -> None:
    with pytest.raises(ConfigError) as error:
        resolve_config({"max_messages": 0})
    assert "max_messages" in str(error.value)
