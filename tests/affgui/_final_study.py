"""A tiny trained study with a final model, an external site and unlabelled images, built once.

``Dev.affproj``: 16 learnable patients (tests.engine._train_factory), experiment ``cnn``
(resnet10t, 2 folds x 1 epoch at 64 px, CPU) and its ensemble final model (id 1), plus
:data:`UNLABELLED` unlabelled images from a new archive folder. ``Site2.affproj``: another
seed's 8 labelled patients, no image shared with Dev. Tests change copies only.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path

import numpy as np

EXPERIMENT = "cnn"
UNLABELLED = 8


def _add_unlabelled(project, n: int, seed: int = 5) -> list[int]:
    """``n`` new images (half with the AFF-like bar) with cached pixels and thumbnails, no label."""
    from engine.store import ImageRecord
    from tests.engine._train_factory import synthetic_image

    rng = np.random.default_rng(seed)
    ids, pixels_of = [], {}
    with project.transaction() as conn:
        for k in range(n):
            pixels = synthetic_image("AFF" if k % 2 else "NFF", rng)
            sha = hashlib.sha256(pixels.tobytes() + f"new{k}".encode()).hexdigest()
            project.cache.write_full(sha, pixels)
            image_id = project.images.insert(conn, ImageRecord(
                path=f"/archive/U{k:03d}.png", source_folder="/archive", sha256=sha, bytes=pixels.size,
                format="png", width=72, height=96, patient_key=f"U{k:03d}", cache_height=96,
                cache_width=72, thumb_height=96, thumb_width=72))
            ids.append(image_id)
            pixels_of[image_id] = pixels
    for image_id, pixels in pixels_of.items():
        project.cache.write_thumb(image_id, pixels)
    return ids


@functools.cache
def _build(base: Path) -> tuple[Path, Path]:
    from engine.experiments import create_experiment
    from engine.final import finalize
    from engine.jobs import Worker
    from engine.store import Project
    from tests.engine._train_factory import make_project, tiny_spec

    base.mkdir(parents=True, exist_ok=True)
    dev = make_project(base / "Dev", patients=16, per_patient=2, k=2)
    with Project.open(dev) as project:
        create_experiment(project, EXPERIMENT, tiny_spec(dev, "resnet10t", epochs=1, seed=0))
    Worker(dev, device="cpu").run(exit_when_idle=True)
    with Project.open(dev) as project:
        assert finalize(project, EXPERIMENT).id == 1
        _add_unlabelled(project, UNLABELLED)
    ext = make_project(base / "Site2", patients=8, per_patient=2, k=2, seed=3)
    return dev, ext


def final_study(tmp_path_factory, dest: Path) -> tuple[Path, Path]:
    """Copies of the shared development and external projects under ``dest``."""
    dev, ext = _build(tmp_path_factory.getbasetemp() / "final-study")
    dest.mkdir(parents=True, exist_ok=True)
    return (Path(shutil.copytree(dev, dest / dev.name)), Path(shutil.copytree(ext, dest / ext.name)))
