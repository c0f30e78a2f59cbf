"""The built-in demo study: phantom radiographs imported into a project."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

DEMO_READER = "demo-import"


def build_demo_project(
    path: str | Path,
    *,
    patients: int = 100,
    seed: int = 0,
    size: tuple[int, int] = (1250, 1000),
    progress: Callable[[str, int, int], None] | None = None,
    readers: int = 2,
) -> Path:
    """Generate phantom DICOMs beside ``path`` and import them into a new project there.

    The sources go to ``<name>.sources/`` beside the project (a project never copies
    its radiographs).
    The project appears at ``path`` only when complete: it is built under a
    temporary name and renamed, so an interrupted build leaves no half project.
    ``progress(stage, done, total)`` reports the ``"phantom"`` and ``"import"`` stages.
    ``readers`` simulated readers (blind sessions ``sim-1``, ``sim-2``, ...; misses driven by the
    phantom's feature size, see :func:`engine.reads.simulate_readers`) read every image, so the
    reader study can be shown without real readers.
    """
    from engine.io import import_sources
    from engine.phantom import PhantomConfig, generate
    from engine.reads import simulate_readers
    from engine.store import Project

    path = Path(path).expanduser().resolve()
    if path.suffix != ".affproj":
        path = path.with_name(path.name + ".affproj")
    if path.exists():
        raise FileExistsError(f"{path}: already exists")
    sources = path.with_name(path.stem + ".sources")
    building = path.with_name(path.stem + ".building.affproj")
    for stale in (sources, building):
        shutil.rmtree(stale, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)

    def stage(name: str):
        return None if progress is None else (lambda done, total, *_: progress(name, done, total))

    config = PhantomConfig(patients=patients, seed=seed, height=size[0], width=size[1])
    study = generate(sources, config, progress=stage("phantom"))
    with Project.create(building) as project:
        report = import_sources(project, [sources], manifest=study.manifest,
                                progress=stage("import"), reader=DEMO_READER)
        if report.errors:
            raise RuntimeError(f"demo import failed for {len(report.errors)} file(s): "
                               f"{report.errors[0][0]}: {report.errors[0][1]}")
        if readers:
            simulate_readers(project, readers=readers, sensitivity=0.7, specificity=0.95, seed=seed,
                             manifest=study.manifest)
        built = project.path
    built.rename(path)
    return path
