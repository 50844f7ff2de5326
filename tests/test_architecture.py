"""The layout's rules, as tests (ARCHITECTURE.md explains them).

- Imports point down: ``pages -> ui -> core -> models``; inside ``core`` the packages form the
  layers of :data:`LAYERS`, lowest first, and a package imports only packages of lower layers.
- No import cycle among the project's modules, function-local imports counted.
- ``ui/`` and ``pages/`` import package faces only; no ``_private`` module or name is imported from
  outside its package.
- No file over 500 lines, no function over 80 lines.
- Importing any face loads neither TensorFlow nor shap nor Streamlit, and creates no file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = ("core", "models", "ui", "pages")

# core's layers, lowest first: a package may import packages of lower layers only.
LAYERS = [
    {"errors"},
    {"config"},
    {"specs", "device", "bootstrap", "plots"},
    {"warehouse"},
    {"ingest", "features"},
    {"tables", "runs"},
    {"evaluate", "explain", "recommend", "privacy"},
    {"training", "impact", "fairness"},
    {"uplift", "monitor", "compress", "leaderboard"},
    {"report"},
    {"app"},
]
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}
MAX_SHARED_MODULES = 8
FACES = sorted(p.parent.name for p in (ROOT / "core").glob("*/__init__.py"))


def _source_files(folders=SOURCE_FOLDERS) -> list[Path]:
    files = [f for d in folders for f in sorted((ROOT / d).rglob("*.py"))]
    return files + ([ROOT / "app.py"] if "pages" in folders else [])


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _imports(path: Path) -> tuple[tuple[str, tuple[str, ...], int], ...]:
    """Every import in a file, function-local ones included: (module, names, line)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            out.append((module, tuple(a.name for a in node.names), node.lineno))
    return tuple(out)


def _project_targets(module: str, names: tuple[str, ...], known: set[str]) -> list[str]:
    """The project modules an import statement loads (``from core.x import _y`` may name a
    module)."""
    targets = []
    if module in known:
        targets.append(module)
    for n in names:
        if f"{module}.{n}" in known:
            targets.append(f"{module}.{n}")
    return targets


def _graph() -> dict[str, set[str]]:
    files = _source_files()
    known = {_module_name(f) for f in files}
    graph = {}
    for f in files:
        me = _module_name(f)
        edges = set()
        for module, names, _ in _imports(f):
            for t in _project_targets(module, names, known):
                # importing a.b.c runs a/__init__ and a/b/__init__ first; a package's own
                # modules are loaded by its face, so they do not depend on it
                parts = t.split(".")
                mine = me.split(".")
                edges |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)
                          if parts[:i] != mine[:i] or i == len(parts)} & known
        edges.discard(me)
        graph[me] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _core_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "core" and len(parts) > 1 else None


@pytest.mark.parametrize("folder,forbidden", [
    ("core", {"streamlit", "ui", "pages"}),
    ("models", {"streamlit", "ui", "pages", "core", "duckdb"}),
    ("ui", {"pages", "duckdb", "keras", "tensorflow", "shap"}),
    ("pages", {"duckdb", "keras", "tensorflow", "shap"}),
])
def test_layers_point_down(folder, forbidden):
    files = _source_files((folder,))
    assert files, folder
    bad = {}
    for f in files:
        tops = {m.split(".")[0] for m, _, _ in _imports(f) if m}
        if tops & forbidden:
            bad[str(f.relative_to(ROOT))] = sorted(tops & forbidden)
    assert bad == {}


def test_every_core_package_has_a_layer_and_few_shared_modules_sit_in_core():
    packages = {p.parent.name for p in (ROOT / "core").glob("*/__init__.py")}
    shared = {p.stem for p in (ROOT / "core").glob("*.py")} - {"__init__", "__main__"}
    assert packages | shared <= set(LAYER_OF), sorted((packages | shared) - set(LAYER_OF))
    assert len(shared) <= MAX_SHARED_MODULES, sorted(shared)


def test_core_packages_import_only_lower_layers():
    bad = []
    for f in _source_files(("core",)):
        me = _core_package(_module_name(f))
        if me is None or me == "__main__":
            continue
        for module, names, line in _imports(f):
            other = _core_package(module) if module != "core" else None
            if module == "core":  # `from core import x`
                others = [n for n in names if n in LAYER_OF]
            else:
                others = [other] if other else []
            for o in others:
                if o != me and LAYER_OF[o] >= LAYER_OF[me]:
                    bad.append(f"{f.relative_to(ROOT)}:{line} {me} (layer {LAYER_OF[me]}) "
                               f"imports {o} (layer {LAYER_OF[o]})")
    assert bad == []


def test_no_import_cycles_function_local_imports_counted():
    assert _cycles(_graph()) == []


def test_function_local_imports_only_keep_heavy_libraries_out():
    """Faces load no TensorFlow or shap, so a function never needs to import one lazily;
    function-local imports are for TensorFlow, Keras, shap and the models built on them."""
    bad = []
    for f in _source_files(("core",)):
        for fn in ast.walk(ast.parse(f.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
                    bad.append(f"{f.relative_to(ROOT)}:{node.lineno} {node.module}")
    assert bad == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_ui_and_pages_import_package_faces_only():
    faces = {f"core.{p}" for p in FACES} | {f"core.{p.stem}" for p in (ROOT / "core").glob("*.py")}
    faces.discard("core.__init__")
    bad = []
    for f in _source_files(("ui", "pages")):
        for module, names, line in _imports(f):
            if module.startswith("core.") and module not in faces:
                bad.append(f"{f.relative_to(ROOT)}:{line} {module}")
            if module == "core" and set(names) - {"__version__"}:
                bad.append(f"{f.relative_to(ROOT)}:{line} from core import {names}")
    assert bad == []


def test_no_private_module_or_name_crosses_a_package():
    bad = []
    for f in _source_files() + sorted((ROOT / "bench").glob("*.py")):
        me = _module_name(f)
        my_pkg = me.split(".")[:2] if me.startswith("core.") else me.split(".")[:1]
        for module, names, line in _imports(f):
            if not module.startswith(("core", "models", "ui")):
                continue
            parts = module.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and parts[:i] != my_pkg[:i] or (
                        part.startswith("_") and parts[:2] != my_pkg[:2]):
                    bad.append(f"{f.relative_to(ROOT)}:{line} imports {module}")
                    break
            owner = parts[:2] if parts[0] == "core" else parts[:1]
            if owner != my_pkg[:len(owner)]:
                private = [n for n in names if n.startswith("_") and n != "__version__"]
                if private:
                    bad.append(f"{f.relative_to(ROOT)}:{line} imports {private} from {module}")
    assert bad == []


def test_faces_declare_all_and_say_what_they_do():
    for p in FACES:
        face = ROOT / "core" / p / "__init__.py"
        tree = ast.parse(face.read_text())
        doc = ast.get_docstring(tree) or ""
        assert len(doc.split()) >= 12 and "TODO" not in doc, f"core/{p}: say what it does"
        assert "import" in doc.lower() or "layer" in doc.lower(), f"core/{p}: say what it may import"
        names = [n for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", "") == "__all__" for t in n.targets)]
        assert names, f"core/{p} has no __all__"


def test_no_file_over_500_lines_and_no_function_over_80():
    long_files, long_funcs = [], []
    for f in _source_files() + sorted((ROOT / "bench").glob("*.py")):
        text = f.read_text()
        if len(text.splitlines()) > 500:
            long_files.append(str(f.relative_to(ROOT)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > 80:
                    long_funcs.append(f"{f.relative_to(ROOT)}:{node.name}")
    assert long_files == [] and long_funcs == []


def test_importing_every_face_loads_no_streamlit_tensorflow_or_shap():
    faces = ", ".join(["core", "core.__main__"] + [f"core.{p}" for p in FACES]
                      + [f"core.{p.stem}" for p in sorted((ROOT / "core").glob("*.py"))
                         if p.stem not in ("__init__", "__main__")])
    code = (f"import sys, {faces}; print(sorted(m for m in ('streamlit', 'tensorflow', "
            f"'keras', 'shap') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_importing_creates_no_files(tmp_path):
    code = "import core.app, core.monitor, ui.state, ui.resources" if (
        ROOT / "core" / "monitor").exists() else "import core.app, ui.state, ui.resources"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"LIFTLAB_DATA_DIR": str(tmp_path / "ws"), "PATH": ""}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "ws").exists()


def test_pages_are_thin():
    sizes = {p.name: len(p.read_text().splitlines()) for p in _source_files(("pages",))
             if p.parent.name == "pages"}
    assert {k: v for k, v in sizes.items() if v > 120} == {}
