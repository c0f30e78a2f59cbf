"""Small learnable projects and specs for the training tests.

AFF images carry a bright horizontal bar and NFF images a diagonal one, over noise, so a
tiny model separates them within an epoch or two. Also a subprocess entry point that runs
one spec (the resume test kills it)::

    python -m tests.engine._train_factory SPEC_JSON RUN_DIR [SLEEP_S_PER_PROGRESS_AFTER_EPOCH_1]
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from engine.splits import create_split
from engine.store import ImageRecord, Project


def synthetic_image(label: str, rng: np.random.Generator, height: int = 96, width: int = 72) -> np.ndarray:
    """A uint8 radiograph stand-in: noise plus a horizontal (AFF) or diagonal (NFF) bright bar."""
    img = rng.normal(60, 20, (height, width))
    yy, xx = np.mgrid[0:height, 0:width]
    centre = rng.uniform(0.35, 0.65) * height
    if label == "AFF":
        bar = np.abs(yy - centre) < height * 0.06
    else:
        bar = np.abs((yy - centre) - (xx - width / 2) * 0.9) < height * 0.06
    img[bar] += 140
    return np.clip(img, 0, 255).astype(np.uint8)


def make_project(path: str | Path, patients: int = 24, per_patient: int = 2, aff_share: float = 0.4,
                 seed: int = 0, k: int = 2, height: int = 96, width: int = 72) -> Path:
    """A project of ``patients * per_patient`` labelled images with cached pixels and a K-fold split."""
    rng = np.random.default_rng(seed)
    with Project.create(path) as project:
        labels = {}
        with project.transaction() as conn:
            for p in range(patients):
                label = "AFF" if p < round(patients * aff_share) else "NFF"
                for j in range(per_patient):
                    pixels = synthetic_image(label, rng, height, width)
                    sha = hashlib.sha256(pixels.tobytes() + f"{p}/{j}".encode()).hexdigest()
                    project.cache.write_full(sha, pixels)
                    rec = ImageRecord(
                        path=f"/data/P{p:03d}_{j}.png", source_folder="/data", sha256=sha,
                        bytes=pixels.size, format="png", width=width, height=height,
                        patient_key=f"P{p:03d}", cache_height=height, cache_width=width)
                    labels[project.images.insert(conn, rec)] = label
        project.labels.set_each(labels, "tester", "cli")
        create_split(project, "default", k=k, seed=seed)
        return project.path


def tiny_spec(project: str | Path, model: str = "resnet10t", fold: int = 0, **changes):
    """A CPU spec that trains in seconds: 64 px, no pretraining, deterministic, 2 threads."""
    from engine.train import RunSpec

    base = dict(project=str(project), split="default", fold=fold, model=model, pretrained=False,
                image_size=64, epochs=2, batch_size=8, lr=1e-3, warmup_epochs=0.5, augment=0.3,
                device="cpu", num_threads=2, deterministic=True, progress_every=2, seed=0,
                checkpoint_every_s=0)  # a checkpoint every epoch, as the resume tests need
    base.update(changes)
    return RunSpec(**base)


def _main(argv: list[str]) -> int:
    from engine.train import RunSpec, train_run

    spec = RunSpec.from_json(json.loads(argv[0]))
    sleep = float(argv[2]) if len(argv) > 2 else 0.0

    def slow(event: dict) -> None:
        # Slows the run down after its first epoch without touching its numbers, so a
        # killer has time to strike mid-run.
        if sleep and event["type"] == "progress" and event["epoch"] >= 2:
            time.sleep(sleep)

    train_run(spec, argv[1], progress=slow)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
