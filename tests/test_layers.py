"""The layer rule: swarmsim imports neither controllers nor apps; controllers never import apps."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level packages each module of ``package`` imports (anywhere in the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_swarmsim_imports_nothing_from_controllers_or_apps() -> None:
    bad = {m: n & {"controllers", "apps"} for m, n in _imports("swarmsim").items()}
    assert not {m: n for m, n in bad.items() if n}


def test_controllers_import_nothing_from_apps() -> None:
    bad = {m: n & {"apps"} for m, n in _imports("controllers").items()}
    assert not {m: n for m, n in bad.items() if n}


def test_importing_the_simulator_loads_no_upper_layer() -> None:
    code = (
        "import sys, swarmsim, swarmsim.mission, swarmsim.scores, swarmsim.formation;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'controllers', 'apps'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.strip() == "[]"


def _module_graph() -> dict[str, set[str]]:
    """Project module -> project modules it imports anywhere (function bodies included)."""
    paths = {}
    for package in ("swarmsim", "controllers", "apps"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            paths[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in paths)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    if child in paths:
                        edges.add(child)
                    elif node.module in paths:
                        edges.add(node.module)
        graph[name] = edges - {name}
    return graph


def test_no_import_circles() -> None:
    graph = _module_graph()
    assert len(graph) > 50
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)
