"""What a final model is evaluated on: the split's held-out test patients, or another project.

Before anything is scored, every member's stored run config is read back and the evaluated
images are checked against what that member trained and validated on (held-out test), or their
content hashes against the development project's (external: the same radiograph at two sites).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.final._members import FinalModelError
from engine.final._store import FinalModel

if TYPE_CHECKING:
    from engine.store import Project

TEST = "test"
_STUDY = {"AFF": 1, "NFF": 0}


@dataclass(frozen=True)
class Target:
    """The labelled images of one evaluation set."""

    kind: str  # "test" or "external"
    label: str  # e.g. "held-out test (split default v2)" or "external: Site2"
    source: str  # the project folder the pixels come from
    image_ids: np.ndarray
    patients: np.ndarray
    labels: np.ndarray

    def summary(self) -> dict:
        pats, idx = np.unique(self.patients, return_inverse=True)
        aff = np.zeros(len(pats), np.int64)
        np.maximum.at(aff, idx.ravel(), self.labels)
        return {"kind": self.kind, "label": self.label, "source": self.source,
                "images": int(len(self.image_ids)), "aff_images": int(self.labels.sum()),
                "patients": int(len(pats)), "aff_patients": int(aff.sum())}


def test_target(project: Project, final: FinalModel) -> Target:
    """The held-out test images of the split the final model was developed on."""
    from engine.splits import TEST_FOLD, load_split

    s = final.provenance["split"]
    split = load_split(project, s["name"], s["version"])
    plan = split.plan
    sel = plan.folds == TEST_FOLD
    if not sel.any():
        raise FinalModelError(f"split {split.name} v{split.version} holds out no test patients "
                              f"(test share {split.test_share}); make a split with a test share "
                              "(affengine split create PROJECT --test-share 0.2) or evaluate on another "
                              "project")
    return Target(TEST, f"held-out test (split {split.name} v{split.version})", str(project.path),
                  plan.image_ids[sel], plan.patients[sel].astype(str), plan.labels[sel])


def external_target(other: Project) -> Target:
    """Every image of another project labelled AFF or NFF (uncertain and excluded left out)."""
    rows = other.query(
        "SELECT i.id, p.patient_key, l.label FROM images i JOIN patients p ON p.id = i.patient_id "
        "JOIN labels l ON l.image_id = i.id WHERE l.label IN ('AFF', 'NFF') ORDER BY i.id")
    if not rows:
        raise FinalModelError(f"{other.path}: no image is labelled AFF or NFF; an external evaluation "
                              "needs labelled images")
    return Target("external", f"external: {other.name}", str(other.path),
                  np.array([r[0] for r in rows], np.int64), np.array([str(r[1]) for r in rows]),
                  np.array([_STUDY[r[2]] for r in rows], np.int64))


def member_image_ids(project: Project, final: FinalModel) -> dict[str, np.ndarray]:
    """Per member run: the image ids it trained or validated on, rebuilt from its stored config.

    Validation images chose the best epoch and, pooled, the decision thresholds, so they count
    as used as much as training images do.
    """
    from engine.splits import load_split
    from engine.train import read_run_config

    used = {}
    for m in final.members:
        spec, config = read_run_config(project.runs_dir / m["run_id"])
        version = int(config["resolved"]["split_version"])
        split = load_split(project, spec.split, version)
        if spec.fold is None or config.get("refit"):
            ids = np.asarray(config["refit"]["train_ids"], np.int64)
        else:
            train, val = split.train_val(spec.fold)
            ids = np.concatenate([train, val])
        used[m["run_id"]] = ids
    return used


def check_never_seen(project: Project, final: FinalModel, target: Target,
                     other: Project | None = None) -> dict:
    """Refuse when an evaluated image was used to train, select or threshold the model; the record."""
    if target.kind == TEST:
        overlap = {run: np.intersect1d(ids, target.image_ids)
                   for run, ids in member_image_ids(project, final).items()}
        bad = {run: ids for run, ids in overlap.items() if len(ids)}
        if bad:
            run, ids = next(iter(bad.items()))
            raise FinalModelError(f"{final.label}: run {run} used {len(ids)} of the test images "
                                  f"(e.g. {ids[:5].tolist()}); the test set is not held out")
        return {"checked": "members' training and validation images, from their run configs",
                "members": len(overlap), "overlap": 0}
    dev = {r.sha256 for r in project.images.list(order="id")}
    evaluated = set(target.image_ids.tolist())
    shared = [r.id for r in other.images.list(order="id") if r.sha256 in dev and r.id in evaluated]
    if shared:
        raise FinalModelError(f"{other.path}: {len(shared)} of its images are also in the development "
                              f"project {project.path} (same content, e.g. image ids {shared[:5]}); "
                              "an external set must not contain development images")
    return {"checked": "image content hashes against the development project", "overlap": 0}


def resolve_target(on: str) -> str:
    """``test`` or the path of another project (refused when it does not exist)."""
    if on == TEST:
        return TEST
    path = Path(on).expanduser()
    if not path.exists():
        raise FinalModelError(f"--on {on}: neither 'test' nor an existing project folder")
    return str(path.resolve())
