"""Layering: pages -> ui -> core -> models, and no heavy imports where they don't belong."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder,forbidden", [
    ("core", {"streamlit", "ui", "pages"}),
    ("models", {"streamlit", "ui", "pages", "core", "duckdb"}),
    ("ui", {"pages", "duckdb", "keras", "tensorflow", "shap"}),
    ("pages", {"duckdb", "keras", "tensorflow", "shap"}),
])
def test_layers_point_down(folder, forbidden):
    files = _files(folder)
    assert files, folder
    bad = {str(f.relative_to(ROOT)): _imports(f) & forbidden for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_importing_core_loads_no_streamlit_or_tensorflow():
    code = ("import sys, core, core.app, core.specs, core.warehouse, core.ingest, core.features, "
            "core.evaluate, core.impact, core.runs, core.app, core.plots, core.app; "
            "print(sorted(m for m in ('streamlit', 'tensorflow', 'keras', 'shap') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_importing_creates_no_files(tmp_path):
    code = "import core.app, core.app, core.app, ui.state"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"LIFTLAB_DATA_DIR": str(tmp_path / "ws"), "PATH": ""}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "ws").exists()


def test_pages_are_thin():
    sizes = {p.name: len(p.read_text().splitlines()) for p in _files("pages")}
    assert {k: v for k, v in sizes.items() if v > 120} == {}
