"""The app's icons: one copy, the top-level ``resources/``, read as the package ``affgui.resources``.

``setup.py`` maps the folder to that package. Each way the app is installed is checked by reading
the icon through ``affgui.icons.resource_path`` (the function the app and its self-test use) in
a fresh interpreter that sees only that installation: a wheel built from the sources, the
editable install CI makes (``pip install -e``: setuptools' finder maps the package to the
folder), and the layout the PyInstaller spec gives the bundle (the spec's data list, with
PyInstaller stubbed out). Where PyInstaller is installed, a small real bundle with the spec's
resource data is built and run too (seconds); the full build is ``tests/test_packaging.py``
with AFF_PACKAGING=1.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from affgui.icons import ICON, PACKAGE, RESOURCES, ResourceError, resource_path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "resources"
IMAGE_SUFFIXES = {".png", ".svg", ".ico", ".icns", ".jpg", ".jpeg", ".gif", ".bmp", ".xpm"}
BUNDLE_ICONS = ("affwb.ico", "affwb.icns")  # the executable's icon on Windows and macOS (spec only)
# What a build needs from the repository (setup.py's packages and pyproject's readme).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "engine", "affgui", "resources")
SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", "out"}
# Prints where affgui and its icon were found, the icon read through the app's own function.
READ_ICON = ("import sys; sys.path[:0] = sys.argv[1:]; {extra}"
             "from affgui.icons import ICON, resource_path; p = resource_path(ICON); assert p.is_file(), p; "
             "import affgui; print(affgui.__spec__.origin); print(p)")


def _repo_files() -> list[Path]:
    """Files in the checkout: git's tracked and untracked-but-not-ignored ones, else a walk."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, timeout=60, check=True).stdout
        names = [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.SubprocessError):  # not a git checkout (an sdist, say)
        names = []
        for top, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith((".egg-info", ".affproj"))]
            names += [Path(top, name) for name in files]
    return [path for path in names if path.is_file()]


def _read_icon(*path: Path, extra: str = "") -> tuple[Path, Path]:
    """Run READ_ICON in an interpreter that sees only ``path`` (no site-packages, no cwd, no env)."""
    out = subprocess.run([sys.executable, "-I", "-S", "-c", READ_ICON.format(extra=extra), *map(str, path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    affgui_init, icon = out.stdout.splitlines()[-2:]
    return Path(affgui_init), Path(icon)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_icon_has_one_copy_in_the_top_level_resources_folder():
    images = [p for p in _repo_files() if p.suffix.lower() in IMAGE_SUFFIXES]
    outside = [str(p.relative_to(ROOT)) for p in images
               if p.parent != FOLDER and p.relative_to(ROOT).parts[:2] != ("docs", "img")]
    assert outside == [], "icons belong in resources/ (docs/img holds the screenshots)"
    by_content: dict[str, list[str]] = {}
    for path in images:
        by_content.setdefault(_sha(path), []).append(str(path.relative_to(ROOT)))
    assert [names for names in by_content.values() if len(names) > 1] == []
    assert sorted(p.name for p in images if p.parent == FOLDER) == sorted((*RESOURCES, *BUNDLE_ICONS))
    assert not (ROOT / "affgui" / "resources").exists()


def test_the_app_reads_the_one_copy_through_importlib_resources():
    icon = resource_path(ICON)
    assert icon.is_file() and b"<svg" in icon.read_bytes()
    for name in RESOURCES:
        assert resource_path(name).read_bytes() == (FOLDER / name).read_bytes(), name


def test_an_install_without_the_package_says_how_to_mend_it(monkeypatch):
    # E.g. an editable install made before the icons moved: its finder knows no affgui.resources.
    from affgui.self_test import SelfTestError, check_resources

    monkeypatch.setattr("affgui.icons.PACKAGE", "affgui.not_installed_resources")
    with pytest.raises(ResourceError, match=r"affgui\.not_installed_resources .*pip install -e \."):
        resource_path(ICON)
    with pytest.raises(SelfTestError, match=r"is not installed .*pip install -e \."):
        check_resources()


def _can_build_wheels() -> bool:
    find = importlib.util.find_spec
    return bool(find("setuptools.command.bdist_wheel") or find("wheel"))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(source copy, wheel, editable wheel), built by setuptools from a copy of the sources."""
    if not _can_build_wheels():
        pytest.skip("building a wheel needs setuptools >= 70.1 (its own bdist_wheel) or the wheel package")
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    wheels = {}
    for hook in ("build_wheel", "build_editable"):
        out_dir = tmp / hook
        out_dir.mkdir()
        out = subprocess.run([sys.executable, "-c", f"from setuptools import build_meta as b; "
                              f"print(b.{hook}({str(out_dir)!r}))"],
                             cwd=src, capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        wheels[hook] = out_dir / out.stdout.splitlines()[-1]
    return src, wheels["build_wheel"], wheels["build_editable"]


def test_the_wheel_carries_the_icons_where_importlib_resources_reads_them(built, tmp_path):
    _src, wheel, _editable = built
    folder = PACKAGE.replace(".", "/")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith(folder + "/"))
        assert shipped == sorted(("__init__.py", *RESOURCES))  # not the bundle-only .ico/.icns
        assert not [n for n in names if n.startswith("resources/")]  # no stray top-level package
        for name in RESOURCES:
            assert zf.read(f"{folder}/{name}") == (FOLDER / name).read_bytes(), name
        zf.extractall(tmp_path / "site")
    affgui_init, icon = _read_icon(tmp_path / "site")
    assert affgui_init == tmp_path / "site" / "affgui" / "__init__.py"
    assert icon == tmp_path / "site" / "affgui" / "resources" / ICON


def test_an_editable_install_maps_the_package_to_the_resources_folder(built, tmp_path):
    src, _wheel, editable = built
    with zipfile.ZipFile(editable) as zf:
        finders = [n for n in zf.namelist() if n.startswith("__editable__") and n.endswith("_finder.py")]
        assert len(finders) == 1, zf.namelist()  # setuptools' finder, not a plain .pth path
        zf.extractall(tmp_path / "site")
    finder = finders[0].removesuffix(".py")
    affgui_init, icon = _read_icon(tmp_path / "site", extra=f"import {finder}; {finder}.install(); ")
    assert affgui_init == src / "affgui" / "__init__.py"
    assert icon == src / "resources" / ICON  # the one copy itself, no copy made


def _spec_datas(monkeypatch) -> tuple[list[tuple[str, str]], dict]:
    """Run the PyInstaller spec with PyInstaller stubbed out: (datas, EXE's keyword arguments)."""
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    for name in ("collect_data_files", "collect_dynamic_libs", "collect_submodules", "copy_metadata"):
        setattr(hooks, name, lambda *args, **kwargs: [])
    monkeypatch.setitem(sys.modules, "PyInstaller", types.ModuleType("PyInstaller"))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils", types.ModuleType("PyInstaller.utils"))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec puts the repository first
    calls: dict[str, dict] = {}

    def record(kind):
        def build_step(*args, **kwargs):  # what the spec reads back (a.pure, a.scripts, ...)
            calls[kind] = kwargs
            return types.SimpleNamespace(**{"pure": [], "scripts": [], "binaries": [], "datas": [], **kwargs})
        return build_step

    spec = ROOT / "packaging" / "aff-workbench.spec"
    namespace = {"SPECPATH": str(spec.parent), "__file__": str(spec),
                 **{kind: record(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}}
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), namespace)
    return calls["Analysis"]["datas"], calls["EXE"]


def test_the_bundle_gets_the_icons_where_importlib_resources_reads_them(monkeypatch, tmp_path):
    datas, exe = _spec_datas(monkeypatch)
    folder = PACKAGE.replace(".", "/")
    assert sorted(Path(source) for source, dest in datas if dest == folder) == sorted(
        FOLDER / name for name in ("__init__.py", *RESOURCES))
    if exe["icon"] is not None:  # Windows and macOS: the executable's icon, from the same folder
        assert Path(exe["icon"]).parent == FOLDER and Path(exe["icon"]).is_file()
    # The bundle's _internal/: the packages (in the real bundle their modules sit in the archive,
    # with __path__ still pointing here, and PyInstaller's importer falls back to the files on disk
    # for the affgui.resources it does not hold) and the spec's data at their destinations.
    internal = tmp_path / "_internal"
    for package in ("engine", "affgui"):
        shutil.copytree(ROOT / package, internal / package, ignore=shutil.ignore_patterns("__pycache__"))
    for source, dest in datas:
        (internal / dest).mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, internal / dest)
    _affgui_init, icon = _read_icon(internal)
    assert icon == internal / "affgui" / "resources" / ICON


# The bundle's entry point in the check below: which loader gave affgui, and where the icon is.
FROZEN_ENTRY = """\
import affgui
from affgui.icons import ICON, resource_path
icon = resource_path(ICON)
assert icon.is_file() and b"<svg" in icon.read_bytes(), icon
print(type(affgui.__spec__.loader).__name__)
print(icon)
"""


@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                    reason="PyInstaller is not installed (pip install -e '.[packaging]'); the test above "
                           "checks the spec's layout without it")
def test_a_pyinstaller_bundle_with_the_specs_data_reads_the_icon(monkeypatch, tmp_path):
    """A real (small) PyInstaller build: the spec's resource data, affgui frozen in the archive."""
    with monkeypatch.context() as stubbed:
        datas, _exe = _spec_datas(stubbed)
    datas = [(source, dest) for source, dest in datas if dest == PACKAGE.replace(".", "/")]
    (tmp_path / "entry.py").write_text(FROZEN_ENTRY, encoding="utf-8")
    spec = tmp_path / "mini.spec"
    spec.write_text(
        f"a = Analysis([{str(tmp_path / 'entry.py')!r}], pathex=[{str(ROOT)!r}], datas={datas!r},\n"
        "             excludes=['tkinter', 'numpy', 'PySide6', 'torch'])\n"
        "pyz = PYZ(a.pure)\n"
        "exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name='mini', console=True)\n"
        "coll = COLLECT(exe, a.binaries, a.datas, name='mini')\n", encoding="utf-8")
    env = {**os.environ, "PYINSTALLER_CONFIG_DIR": str(tmp_path / "config")}  # its cache stays here
    out = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                          "--distpath", str(tmp_path / "dist"), "--workpath", str(tmp_path / "work"),
                          str(spec)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    bundle = tmp_path / "dist" / "mini"
    run = subprocess.run([str(bundle / "mini")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    loader, icon = run.stdout.splitlines()[-2:]
    assert loader == "PyiFrozenLoader"  # affgui came from the archive, as in the real bundle
    assert Path(icon) == bundle / "_internal" / "affgui" / "resources" / ICON
