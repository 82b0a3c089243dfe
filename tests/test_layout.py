"""The package's shape: layers that read one way, no import circle, small modules, and no
TensorFlow on ``import speakerid``.

Every import counts: at module level, inside functions (they run later, but still tie two modules
together) and under ``if TYPE_CHECKING:`` (a type named there is a dependency a reader must follow
just the same). See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "speakerid"
MAX_MODULE_LINES = 600
UPPER_LAYERS = ("speakerid.app", "speakerid.cli")  # app may import the core; cli the app and the core
FORBIDDEN_IN_THE_LIBRARY = {"streamlit"}  # the UI lives outside speakerid/


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in it (``from .x import y`` counts ``.x``, or ``.x.y``
    when ``y`` is itself a module; ``from . import y`` counts the package only for a name that is
    not)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            submodules = {f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")}
            targets |= submodules
            if node.module or len(submodules) < len(node.names):
                targets.add(base)
    return targets - {name}


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """speakerid's modules and the speakerid modules each imports."""
    found = modules()
    return {name: imported_modules(name, path) & found.keys() for name, path in found.items()}


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


def layer(name: str) -> int:
    """0: the core; 1: the app's logic (speakerid.app); 2: the command line (speakerid.cli, and
    ``python -m speakerid``, which runs it)."""
    if name == "speakerid.__main__":
        return len(UPPER_LAYERS)
    for rank, top in enumerate(UPPER_LAYERS, start=1):
        if name == top or name.startswith(top + "."):
            return rank
    return 0


def test_graph_sees_every_kind_of_import():
    graph = import_graph()
    facade = graph["speakerid.gallery.facade"]
    assert "speakerid.cli.common" in graph["speakerid.cli.speaker_commands"]
    assert "speakerid.training.settings" in graph["speakerid.training.trainer"]
    assert "speakerid.models.networks" in graph["speakerid.models.encoder"]
    assert "speakerid.paths" in facade  # from .. import paths
    assert "speakerid.gallery.rows" in facade and "speakerid.gallery" not in facade  # from . import rows
    assert "speakerid.models.loader" in facade  # inside a function
    assert "speakerid.models.base" in facade  # under TYPE_CHECKING
    assert "speakerid" in graph["speakerid.cli"]  # from .. import __version__


def test_finder_reports_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    circle = find_circle(import_graph())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_layers_read_one_way():
    """The core never imports the app's logic or the CLI; the app's logic never imports the CLI."""
    upward = sorted(f"{source} -> {target}" for source, targets in import_graph().items()
                    for target in targets if layer(target) > layer(source))
    assert upward == []


def test_the_library_never_imports_the_ui():
    found = sorted(f"{name} -> {target}" for name, path in modules().items()
                   for target in imported_modules(name, path)
                   if target.split(".")[0] in FORBIDDEN_IN_THE_LIBRARY)
    assert found == []


def test_no_module_is_over_600_lines():
    long = {name: lines for name, path in modules().items()
            if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_importing_speakerid_and_its_cli_loads_no_tensorflow():
    code = ("import sys, speakerid, speakerid.cli\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]"
