"""The layout's rules, checked on the source: what may import what, no cycles, modules a reader can hold.

Imports are read from the code, all of them: at module level, inside
functions (deferred) and under ``TYPE_CHECKING``. Importing ``a.b.c`` runs
``a/__init__`` and ``a/b/__init__`` first, so it counts as importing them too.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("llm", "audio", "assistant")
FACES = ("assistant.tui", "assistant.voice", "assistant.rosey", "assistant.wyoming", "assistant.cli", "assistant.__main__")
MAX_MODULE_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _imported_names(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = node.module if not node.level else ".".join(filter(None, (base, node.module)))
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def _ours(name: str) -> str | None:
    """The project module ``name`` refers to (``from x import y`` may name a module or a thing in one)."""
    modules = _modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@cache
def _graph() -> dict[str, frozenset[str]]:
    graph = {}
    for module, path in _modules().items():
        edges = set()
        for name in _imported_names(module, path):
            target = _ours(name)
            if target is None:
                continue
            parts = target.split(".")
            edges.update(".".join(parts[:length]) for length in range(1, len(parts) + 1))
        graph[module] = frozenset(
            edge for edge in edges if edge in _modules() and edge != module and not module.startswith(edge + ".")
        )
    return graph


def _imports(module: str) -> frozenset[str]:
    return _graph()[module]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while (member := stack.pop()) != module:
                on_stack.discard(member)
                component.append(member)
            on_stack.discard(module)
            if component:
                cycles.append(sorted([module, *component]))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_the_checker_sees_every_kind_of_import() -> None:
    """Deferred, TYPE_CHECKING, relative and package imports are all found, or the rules below would prove nothing."""
    assert "assistant.config" in _imports("assistant.session")  # relative, at module level
    assert "assistant.session" in _imports("assistant.voice.loop")  # under TYPE_CHECKING
    assert "assistant.voice.cli" in _imports("assistant.cli")  # inside a function
    assert "assistant.tools" in _imports("assistant.config")  # the package a submodule import runs


def test_no_module_imports_itself_back_through_others() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("package", ["llm", "audio"])
def test_llm_and_audio_import_nothing_of_the_program_nor_each_other(package: str) -> None:
    other = "audio" if package == "llm" else "llm"
    offending = {
        module: sorted(name for name in _imports(module) if not _within(name, package))
        for module in _modules()
        if _within(module, package)
    }
    assert {module: names for module, names in offending.items() if names} == {}, f"{package} must not import {other} or assistant"


@pytest.mark.parametrize("face", FACES)
def test_a_face_never_imports_another(face: str) -> None:
    allowed = {"assistant.tui": ("assistant.voice",), "assistant.cli": FACES, "assistant.__main__": FACES}.get(face, ())
    others = [other for other in FACES if other != face and other not in allowed]
    crossings = sorted(
        f"{module} -> {name}"
        for module in _modules()
        if _within(module, face)
        for name in _imports(module)
        if any(_within(name, other) for other in others)
    )
    assert crossings == []


def test_the_core_knows_no_face() -> None:
    """The orchestrator, session, tools, store... run the same under every face; only config reads their settings."""
    core = [module for module in _modules() if _within(module, "assistant") and not any(_within(module, f) for f in FACES)]
    crossings = sorted(
        f"{module} -> {name}"
        for module in core
        for name in _imports(module)
        if any(_within(name, face) for face in FACES)
        and not (module == "assistant.config" and (name.endswith(".settings") or name in FACES))
    )
    assert crossings == []


def test_config_is_built_only_from_settings_modules() -> None:
    """Reading config.yaml must not load behaviour: only the parts' settings (and persona definitions)."""
    settings_modules = {
        name for name in _imports("assistant.config")
        if name.rpartition(".")[2] not in ("settings", "rosey_settings", "personas")
    }
    assert settings_modules - {
        "assistant", "llm", "audio", "assistant.tools", "assistant.voice", "assistant.tui", "assistant.wyoming",
    } == set()


def test_every_module_is_short_enough_to_read_in_one_sitting() -> None:
    long_modules = {
        module: lines
        for module, path in _modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long_modules == {}
