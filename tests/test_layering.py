"""The layering rules of architecture.md, checked in fresh interpreters."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_BLOCK = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def __init__(self, names): self.names = names
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in self.names:
            raise ImportError(f'{{name}} is blocked by the layering test')
sys.meta_path.insert(0, _Block({blocked!r}))
import pkgutil, importlib
pkg = importlib.import_module({package!r})
names = [m.name for m in pkgutil.walk_packages(pkg.__path__, {package!r} + '.')
         if m.name.split('.')[-1] != '__main__']
for name in names:
    importlib.import_module(name)
print(len(names), 'modules;', 'torch' in sys.modules)
"""


def _run(package: str, blocked: set[str]) -> str:
    code = _BLOCK.format(package=package, blocked=blocked)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def test_engine_imports_without_qt():
    out = _run("engine", {"PySide6", "shiboken6", "pyqtgraph", "affgui", "qtpy", "superqt"})
    assert int(out.split()[0]) > 5


def test_affgui_imports_without_torch():
    out = _run("affgui", {"torch", "timm", "torchvision", "pytorch_grad_cam"})
    assert out.endswith("False")


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_import_linter_contracts():
    out = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_affgui_uses_engine_public_names_only():
    import ast

    offenders = []
    for path in (ROOT / "affgui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                private = [p for p in parts[1:] if p.startswith("_") and not p.endswith("__")]
                if parts[0] == "engine" and private:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders, offenders


def test_what_the_gui_reads_from_the_engine_does_not_load_torch():
    # affgui.predictions lists experiments and reads out-of-fold scores in the GUI process.
    code = ("import sys; import affgui.predictions; "
            "from engine.experiments import list_experiments; "
            "from engine.evaluate import load_experiment_predictions; "
            "print('torch' in sys.modules, 'timm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["False", "False"]
