"""Final models in the project database, with their provenance (torch-free: the GUI lists them)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.final._members import FinalModelError, Member, experiment_members

if TYPE_CHECKING:
    from engine.store import Project

MODES = ("ensemble", "refit")
# What the cached pixels are before a model sees them (engine.io and engine.train), stated once.
PREPROCESSING = {
    "windowing": "DICOM Modality LUT, then the file's first VOI window (or LUT; robust percentiles when "
                 "the file has none), MONOCHROME1 / MinIsWhite inverted, to uint8 (engine.io)",
    "orientation": "as stored in the file: no rotation, no flip, laterality not normalised",
    "cache": "long side 1024 px, never upscaled (bilinear, antialiased)",
    "letterbox": "long side scaled to image_size (Pillow bilinear), centred on a zero square",
    "input": "1 channel, x = (uint8 / 255 - mean) / std, NCHW float32",
    "output": "P(AFF) = softmax(logits)[:, 1]; an ensemble averages its members' P(AFF)",
}
# Spec fields that say how and where a run executed, not what was trained.
_EXECUTION = ("project", "fold", "device", "num_threads", "progress_every", "checkpoint_every_s",
              "compile", "compile_backend", "cuda_graphs", "precision", "channels_last", "deterministic")


@dataclass(frozen=True)
class FinalModel:
    """A stored final model; ``provenance`` is what it was made from (see ``docs/evaluation.md``)."""

    id: int
    experiment: str
    experiment_id: int
    mode: str
    job_id: int | None
    provenance: dict
    created_at: str

    @property
    def label(self) -> str:
        return f"final {self.id} ({self.experiment}, {self.mode})"

    @property
    def image_size(self) -> int:
        return int(self.provenance["image_size"])

    @property
    def members(self) -> list[dict]:
        return list(self.provenance["members"])

    def thresholds(self, level: str = "patient") -> dict[str, float]:
        """Decision thresholds fixed on the cross-validation (out-of-fold) predictions."""
        return dict(self.provenance["thresholds"][level])

    def to_json(self) -> dict:
        return {"id": self.id, "experiment": self.experiment, "mode": self.mode, "job_id": self.job_id,
                "created_at": self.created_at, "provenance": self.provenance}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_version() -> dict:
    """The engine version and, when it runs from a git checkout, the commit."""
    from importlib.resources import files

    import engine

    commit = None
    # the checkout holding the engine package (a bundle has none: git then fails and commit stays None)
    root = Path(str(files("engine"))).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
        if out.returncode == 0:
            commit = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"engine": engine.__version__, "git_commit": commit}


def recipe(spec: dict) -> dict:
    """The experiment's spec without execution settings: what every member was trained with."""
    return {k: v for k, v in sorted(spec.items()) if k not in _EXECUTION}


def _cv_thresholds(members: list[Member], how: str) -> tuple[dict, dict]:
    """Thresholds (Youden, sensitivity 0.90, specificity 0.90) on the pooled out-of-fold predictions.

    With repeats an image's out-of-fold probability is the mean over repeats. Returns the
    thresholds per level and the counts they were fixed on.
    """
    from engine.evaluate import Predictions, operating_points
    from engine.train import PREDICTIONS, read_predictions

    probs: dict[int, list[float]] = {}
    label, patient = {}, {}
    for m in members:
        cols = read_predictions(m.run_dir / PREDICTIONS)
        for i, pid, p, y in zip(cols["image_id"].tolist(), cols["patient_id"].tolist(),
                                cols["probability"].tolist(), cols["label"].tolist()):
            probs.setdefault(i, []).append(p)
            label[i], patient[i] = y, pid
    ids = np.array(sorted(probs), np.int64)
    pred = Predictions("cv", "cv", ids, np.array([patient[i] for i in ids.tolist()]),
                       np.array([label[i] for i in ids.tolist()]),
                       np.array([np.mean(probs[i]) for i in ids.tolist()]))
    out, counts = {}, {}
    for level, p in (("image", pred), ("patient", pred.to_patients(how))):
        points = operating_points(p.labels, p.scores)
        out[level] = {rule: float(op.threshold) for rule, op in points.items()}
        counts[level] = {"cases": len(p), "aff": int(p.labels.sum())}
    return out, counts


REFIT_MEMBER = "final_member.json"  # written by a finished refit job into its run folder


def _final(project: Project, row) -> FinalModel:
    provenance = json.loads(row["provenance"])
    if row["mode"] == "refit" and not provenance["members"] and row["run_id"]:
        # a refit job that ran elsewhere (a Slurm node works on a copy of the database) leaves
        # its member in its run folder; the run folder is shared, so it is read from there
        path = project.runs_dir / row["run_id"] / REFIT_MEMBER
        if path.is_file():
            provenance.update(json.loads(path.read_text(encoding="utf-8")))
    return FinalModel(id=row["id"], experiment=row["name"], experiment_id=row["experiment_id"],
                      mode=row["mode"], job_id=row["job_id"], provenance=provenance,
                      created_at=row["created_at"])


_SELECT = ("SELECT f.id, f.experiment_id, f.mode, f.job_id, f.provenance, f.created_at, e.name, j.run_id "
           "FROM final_models f JOIN experiments e ON e.id = f.experiment_id "
           "LEFT JOIN jobs j ON j.id = f.job_id")


def ensemble_provenance(project: Project, name: str, how: str = "mean") -> dict:
    """Provenance of the ensemble of every fold model of every repeat of experiment ``name``."""
    from engine.experiments import get_experiment
    from engine.splits import load_split
    from engine.train import read_run_config

    members = experiment_members(project, name)
    exp = get_experiment(project, name)
    row = project.query("SELECT name, version FROM splits WHERE id = ?", (exp.split_id,))[0]
    split = load_split(project, row["name"], row["version"])
    configs = [read_run_config(m.run_dir)[1] for m in members]
    sizes = {int(c["resolved"]["image_size"]) for c in configs}
    norms = {(float(c["resolved"]["mean"]), float(c["resolved"]["std"])) for c in configs}
    if len(sizes) != 1 or len(norms) != 1:
        raise FinalModelError(f"experiment {name!r}: its fold models disagree on image size {sorted(sizes)} "
                              f"or normalisation {sorted(norms)}; they cannot form one ensemble")
    (mean, std), = norms
    thresholds, counts = _cv_thresholds(members, how)
    return {
        "experiment": name, "experiment_id": exp.id, "mode": "ensemble", "model": exp.model,
        "family": configs[0]["resolved"].get("family", "unknown"),
        "split": {"name": split.name, "version": split.version, "id": split.id, "k": split.k,
                  "test_share": split.test_share, "test_images": int(len(split.test_ids()))},
        "members": [{"repeat": m.repeat, "fold": m.fold, "seed": m.seed, "job_id": m.job_id,
                     "run_id": m.run_id, "weights": f"runs/{m.run_id}/checkpoints/best.pt",
                     "sha256": file_sha256(m.run_dir / "checkpoints" / "best.pt")} for m in members],
        "recipe": recipe(exp.spec), "image_size": sizes.pop(), "mean": mean, "std": std,
        "preprocessing": PREPROCESSING, "patient_rule": how, "thresholds": thresholds,
        "thresholds_fixed_on": {"data": "out-of-fold cross-validation predictions", **counts},
        "code_version": code_version(), "training_versions": configs[0].get("versions", {}),
    }


def _insert(project: Project, exp_id: int, mode: str, provenance: dict, job_id: int | None = None,
            conn=None) -> int:
    from engine.store import utc_now

    sql = ("INSERT INTO final_models(experiment_id, mode, job_id, provenance, created_at) "
           "VALUES (?, ?, ?, ?, ?)")
    params = (exp_id, mode, job_id, json.dumps(provenance, sort_keys=True), utc_now())
    if conn is not None:
        return conn.execute(sql, params).lastrowid
    with project.transaction() as c:
        return c.execute(sql, params).lastrowid


def get_final_model(project: Project, final_id: int) -> FinalModel:
    rows = project.query(_SELECT + " WHERE f.id = ?", (int(final_id),))
    if not rows:
        raise FinalModelError(f"no final model with id {final_id} in {project.path} "
                              "(affengine finalize PROJECT -e NAME makes one)")
    return _final(project, rows[0])


def list_final_models(project: Project, experiment: str | None = None) -> list[FinalModel]:
    """Every final model (of one experiment), oldest first."""
    if experiment is None:
        return [_final(project, r) for r in project.query(_SELECT + " ORDER BY f.id")]
    rows = project.query(_SELECT + " WHERE e.name = ? ORDER BY f.id", (experiment,))
    return [_final(project, r) for r in rows]


def final_model_ready(project: Project, final: FinalModel) -> str | None:
    """``None`` when the model can be used, else why not (a refit job still running, a weight changed)."""
    if final.mode == "refit":
        from engine.jobs import JobQueue

        job = JobQueue(project).get(final.job_id)
        if job.state != "finished":
            return (f"{final.label}: its refit job {job.id} is {job.state}; run `affengine worker "
                    f"{project.path}` (or wait) until it finished")
    for m in final.members:
        path = project.path / m["weights"]
        if not path.is_file():
            return f"{final.label}: weight file {path} is missing"
        if file_sha256(path) != m["sha256"]:
            return (f"{final.label}: weight file {path} changed since the final model was made "
                    "(its SHA-256 differs); make a new one with affengine finalize")
    return None


def latest_final_model(project: Project, experiment: str) -> FinalModel:
    """The newest usable final model of ``experiment``; refuses when there is none."""
    finals = list_final_models(project, experiment)
    if not finals:
        raise FinalModelError(f"experiment {experiment!r} has no final model; make one with "
                              f"`affengine finalize {project.path} -e {experiment}`")
    for final in reversed(finals):
        if final_model_ready(project, final) is None:
            return final
    raise FinalModelError(final_model_ready(project, finals[-1]))
