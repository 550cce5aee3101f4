"""The public surface of ``llm`` and ``audio`` is exactly their ``__all__``.

A name added to a package but not to ``__all__`` (or the other way round) is
a contract that nobody declared: these tests fail on either drift.
"""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import audio
import llm


def test_llm_exports_exactly_the_names_it_offers() -> None:
    offered = [
        name for name, value in vars(llm).items() if not name.startswith("_") and not isinstance(value, ModuleType)
    ]
    assert sorted(llm.__all__) == sorted(offered)


def test_audio_exports_exactly_the_names_it_loads_on_first_use() -> None:
    assert sorted(audio.__all__) == sorted(audio._EXPORTS)


def test_every_name_audio_exports_resolves() -> None:
    unresolved = []
    for name in audio.__all__:
        try:
            getattr(audio, name)
        except (AttributeError, ImportError) as exc:
            unresolved.append(f"{name}: {exc}")
    assert unresolved == []


def test_type_checkers_see_the_names_audio_exports() -> None:
    """``audio`` imports its names lazily; the ``TYPE_CHECKING`` block is what editors and mypy see."""
    tree = ast.parse(inspect.getsource(audio))
    block = next(
        node for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    imported = [alias.asname or alias.name for node in block.body if isinstance(node, ast.ImportFrom)
                for alias in node.names]
    assert sorted(imported) == sorted(audio.__all__)
