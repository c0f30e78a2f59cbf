"""A tiny finished study with a held-out test share (20 % of patients), built once per process.

Two experiments of resnet10t (seeds 0 and 1), 2 folds x 2 epochs at 64 px, on a split whose
test patients no run ever sees. Tests that change the project work on a copy.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from tests.engine._train_factory import make_project, tiny_spec

A, B = "a", "b"
TEST_SHARE = 0.2


@functools.cache
def held_out_study(base: Path) -> Path:
    """``base/Held.affproj`` with split ``default`` v2 (k = 2, 20 % test) and experiments a, b."""
    from engine.experiments import create_experiment
    from engine.jobs import Worker
    from engine.splits import create_split
    from engine.store import Project

    Path(base).mkdir(parents=True, exist_ok=True)
    path = make_project(Path(base) / "Held", patients=30, per_patient=2, k=2)
    with Project.open(path) as project:
        create_split(project, "default", k=2, seed=0, test_share=TEST_SHARE)
        create_experiment(project, A, tiny_spec(path, "resnet10t", epochs=2, seed=0))
        create_experiment(project, B, tiny_spec(path, "resnet10t", epochs=2, seed=1))
    Worker(path, device="cpu").run(exit_when_idle=True)
    return path


def shared_base(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "held-out-study"


def copy_study(src: Path, dest: Path) -> Path:
    out = Path(dest) / src.name
    shutil.copytree(src, out)
    return out


def phantom_project(base: Path, name: str, config) -> Path:
    """A project imported from a generated phantom study (manifest labels and ROIs)."""
    from engine.io import import_sources
    from engine.phantom import generate
    from engine.store import Project

    study = generate(Path(base) / f"{name}-src", config, workers=2)
    with Project.create(Path(base) / name) as project:
        report = import_sources(project, [study.root], manifest=study.manifest, workers=2)
        assert report.ok, report.summary()
        return project.path


@functools.cache
def phantom_sites(base: Path) -> tuple[Path, Path]:
    """A development project (phantom seed 0, trained: experiments a and b) and an external one.

    The external site is another seed with other acquisition settings: larger detector, more
    MONOCHROME1 files, RLE only, harder cases and a higher AFF share.
    """
    from engine.experiments import create_experiment
    from engine.jobs import Worker
    from engine.phantom import PhantomConfig
    from engine.splits import create_split
    from engine.store import Project

    Path(base).mkdir(parents=True, exist_ok=True)
    dev = phantom_project(base, "Dev", PhantomConfig(patients=20, seed=0, height=320, width=256,
                                                     difficulty=0.2, aff_share=0.4))
    ext = phantom_project(base, "Site2", PhantomConfig(patients=14, seed=7, height=400, width=320,
                                                       difficulty=0.6, aff_share=0.5, monochrome1_share=0.8,
                                                       transfer_syntaxes=("rle",)))
    with Project.open(dev) as project:
        create_split(project, "default", k=2, seed=0)
        create_experiment(project, A, tiny_spec(dev, "resnet10t", epochs=2, seed=0))
        create_experiment(project, B, tiny_spec(dev, "resnet10t", epochs=2, seed=1))
    Worker(dev, device="cpu").run(exit_when_idle=True)
    return dev, ext
