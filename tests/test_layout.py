"""The code's structure: every module imports at its top and the modules' imports form no circle,
so any module can be imported first; modules that use private parts of a library say which
versions they were written for, and fail here when the installed one is outside that range."""

import ast
from importlib.metadata import version
from pathlib import Path

import pytest
from django.conf import settings
from packaging.version import Version

from vingine import broker, outbound, rows

PACKAGES = ("vingine", "audit", "cronjobs", "workflows")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((Path(settings.BASE_DIR) / package).rglob("*.py")):
            parts = path.relative_to(settings.BASE_DIR).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_at_run_time(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports when it is imported (``if TYPE_CHECKING`` left out)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    pending = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                pending += node.body + node.orelse
            continue
        if isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # "from . import module"
    resolved = set()
    for target in found:
        while target and target not in known:
            target = target.rpartition(".")[0]
        # A module's own packages are being imported already when it runs (a/__init__.py first).
        if target and target != name and not name.startswith(target + "."):
            resolved.add(target)
    return resolved


def test_no_import_is_hidden_in_a_function():
    # An import inside a function is how a circle is hidden rather than removed. AppConfig.ready is
    # where Django wants signal receivers connected, once every app is loaded.
    hidden = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != "ready":
                hidden += [
                    f"{name}.{node.name} (line {inner.lineno})"
                    for inner in ast.walk(node)
                    if isinstance(inner, (ast.Import, ast.ImportFrom))
                ]
    assert not hidden, f"imports inside functions: {hidden}"


def test_the_imports_form_no_circle():
    known = modules()
    graph = {name: imports_at_run_time(name, path, set(known)) for name, path in known.items()}
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                circle = visit(target)
                if circle:
                    return circle
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            circle = visit(name)
            assert circle is None, "import circle: " + " -> ".join(circle)


@pytest.mark.parametrize("module", [broker, outbound, rows], ids=lambda module: module.__name__)
def test_fenced_modules_run_on_the_versions_they_were_written_for(module):
    for package, (lowest, below) in module.WRITTEN_FOR.items():
        installed = Version(version(package))
        assert Version(lowest) <= installed < Version(below), (
            f"{package} {installed} is installed, but {module.__name__} ({module.__file__}) uses its private "
            f"parts as of versions {lowest} up to {below}: re-check that module against {package} {installed}, "
            "then update its WRITTEN_FOR"
        )
