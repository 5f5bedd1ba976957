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
