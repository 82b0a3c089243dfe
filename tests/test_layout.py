"""The package's shape: no import circles, and no TensorFlow on ``import speakerid``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "speakerid"
TYPE_CHECKING_TESTS = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_in(tree: ast.Module, deferred: bool) -> list[ast.Import | ast.ImportFrom]:
    """The imports that run: when the module is imported, and with ``deferred`` also those inside
    functions. ``if TYPE_CHECKING:`` blocks never run (annotations are strings here), so they are
    left out: type checkers follow circles there without harm."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if not deferred and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.If) and ast.unparse(child.test) in TYPE_CHECKING_TESTS:
                visit_all(child.orelse)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            visit(child)

    def visit_all(nodes: list[ast.stmt]) -> None:
        for statement in nodes:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                found.append(statement)
            visit(statement)

    visit(tree)
    return found


def imported_modules(name: str, path: Path, deferred: bool) -> set[str]:
    """The speakerid modules ``name`` imports (``from .x import y`` counts ``.x``, or ``.x.y`` when
    ``y`` is itself a module; ``from . import y`` counts the package only for a name that is not)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in imports_in(ast.parse(path.read_text()), deferred):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
            continue
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        submodules = {f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")}
        targets |= submodules
        if node.module or len(submodules) < len(node.names):
            targets.add(base)
    return {t for t in targets if t.split(".")[0] == "speakerid" and t != name}


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imported_modules(name, path, deferred) & modules.keys() for name, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (circle := visit(target)):
                return circle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            return circle
    return None


def test_graph_sees_the_packages_imports():
    graph = import_graph()
    assert "speakerid.cli.common" in graph["speakerid.cli.speaker_commands"]
    assert "speakerid.training.settings" in graph["speakerid.training.trainer"]
    assert "speakerid.models.networks" in graph["speakerid.models.encoder"]
    assert "speakerid.paths" in graph["speakerid.gallery"]  # from . import paths
    assert "speakerid" not in graph["speakerid.gallery"]
    assert "speakerid" in graph["speakerid.cli"]  # from .. import __version__


def test_finder_reports_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_no_module_level_import_circle():
    circle = find_circle(import_graph())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


# Imports inside functions run only when called, after every module has loaded, so they cannot
# leave a module half-initialised; still, a circle through them ties two modules together (as
# cli <-> cli_model and train <-> trainer once did). One is deliberate: Encoder.load hands a fused
# model's folder to FusedEncoder, a subclass of Encoder, which must import it.
DEFERRED_EDGES_ALLOWED = {("speakerid.models.encoder", "speakerid.models.fusion")}


def test_no_import_circle_through_imports_inside_functions():
    graph = import_graph(deferred=True)
    for source, target in DEFERRED_EDGES_ALLOWED:
        assert target in graph[source], f"{source} no longer imports {target}: drop it from the allowed edges"
        graph[source].discard(target)
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_importing_speakerid_and_its_cli_loads_no_tensorflow():
    code = ("import sys, speakerid, speakerid.cli\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]"
