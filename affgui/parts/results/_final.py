"""Final models and their evaluation sets, as the Results view shows them (no Qt, no torch).

The rows come from ``engine.final``'s torch-free readers: each stored final model with its
provenance as stored (split, weight hashes, recipe, orientation, image size, code version),
and, per experiment with a final model, one row per evaluation set: the cross-validation
(out-of-fold) figures computed here, next to every stored held-out test or external evaluation
(``affengine evaluate``, run by the GUI as a subprocess). The figures of a row are the ones the
report shows: AUC with DeLong CI, Brier score, calibration slope and in the large, and
sensitivity / specificity at the Youden threshold fixed on cross-validation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.final import FinalModel
    from engine.store import Project

CV = "cross-validation"


@dataclass(frozen=True)
class FinalModelInfo:
    """One stored final model; ``ready`` is ``None`` when it can be used, else why not."""

    id: int
    experiment: str
    mode: str
    model: str
    created_at: str
    split: str
    members: int
    weights: tuple[tuple[str, str], ...]  # (weight file, SHA-256) per member
    recipe: dict
    orientation: str
    image_size: int
    code_version: str
    ready: str | None
    provenance: dict

    @property
    def weights_short(self) -> str:
        """The members' hashes, shortened, for the table (the tooltip and details have them in full)."""
        return ", ".join(sha[:12] for _path, sha in self.weights) or "—"

    def details(self) -> str:
        """The provenance as stored, for the details pane."""
        return json.dumps({"id": self.id, "experiment": self.experiment, "mode": self.mode,
                           "created_at": self.created_at, "provenance": self.provenance},
                          indent=1, sort_keys=True)


@dataclass(frozen=True)
class EvaluationRow:
    """One experiment's figures on one evaluation set at one level (patient or image)."""

    experiment: str
    final_model_id: int | None
    kind: str  # "cross-validation", "test" or "external"
    target: str  # e.g. "cross-validation (out of fold)", "external: Site2"
    n: int
    n_aff: int
    auc: float | None
    auc_ci_low: float | None
    auc_ci_high: float | None
    brier: float | None
    slope: float | None
    citl: float | None
    sensitivity: float | None  # at the Youden threshold fixed on cross-validation
    specificity: float | None
    created_at: str = ""
    folder: str = ""


@dataclass(frozen=True)
class FinalModelsData:
    level: str
    finals: tuple[FinalModelInfo, ...]
    evaluations: tuple[EvaluationRow, ...]
    notes: tuple[str, ...] = ()


def _split_text(split: dict) -> str:
    text = f"{split.get('name')} v{split.get('version')}, k = {split.get('k')}"
    if split.get("test_share"):
        text += f", test {split['test_share']:.0%} ({split.get('test_images', 0)} images)"
    return text


def _code_text(code: dict) -> str:
    commit = code.get("git_commit")
    return f"engine {code.get('engine', '?')}" + (f" @ {commit[:10]}" if commit else "")


def final_info(project: Project, final: FinalModel) -> FinalModelInfo:
    """What the table shows of ``final``; reading its weights' hashes says whether it is usable."""
    from engine.final import FinalModelError, final_model_ready

    p = final.provenance
    try:
        ready = final_model_ready(project, final)
    except (FinalModelError, OSError, KeyError) as exc:
        ready = str(exc.args[0]) if exc.args else str(exc)
    if final.mode == "refit" and not p.get("members"):
        ready = ready or "refit job not finished"
    return FinalModelInfo(
        id=final.id, experiment=final.experiment, mode=final.mode, model=str(p.get("model", "?")),
        created_at=final.created_at, split=_split_text(p.get("split", {})),
        members=len(p.get("members", [])),
        weights=tuple((m["weights"], m["sha256"]) for m in p.get("members", [])),
        recipe=dict(p.get("recipe", {})),
        orientation=str(p.get("preprocessing", {}).get("orientation", "?")),
        image_size=int(p.get("image_size", 0) or 0), code_version=_code_text(p.get("code_version", {})),
        ready=ready, provenance=p)


def _cv_row(project: Project, final: FinalModel, level: str, how: str) -> EvaluationRow:
    """The experiment's out-of-fold figures, with the same measures as an evaluation's."""
    from engine.evaluate import brier_score, delong_ci, load_experiment_predictions, operating_point
    from engine.final import recalibration

    pred = load_experiment_predictions(project, final.experiment)
    if level == "patient":
        pred = pred.to_patients(how)
    y, s = pred.labels, pred.scores
    auc = delong_ci(y, s)
    calib = recalibration(y, s)
    t = final.thresholds(level)["youden"]
    op = operating_point(y, s, t, "youden")
    return EvaluationRow(final.experiment, final.id, CV, "cross-validation (out of fold)", len(y),
                         int(y.sum()), *(_number(v) for v in (auc.auc, auc.ci_low, auc.ci_high,
                                                              brier_score(y, s), calib.slope, calib.citl,
                                                              op.sensitivity, op.specificity)))


def _number(v) -> float | None:
    """A figure, or ``None`` when there is none (not estimable: NaN)."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def _evaluation_rows(ev: dict, level: str) -> list[EvaluationRow]:
    rows = []
    for e in ev.get("experiments", []):
        r = e.get(level) or {}
        calib = r.get("recalibration") or {}
        youden = next((p for p in r.get("operating_points", []) if p.get("rule") == "youden"), {})
        rows.append(EvaluationRow(
            e["experiment"], e.get("final_model_id"), ev.get("kind", "?"), ev.get("target", "?"),
            int(r.get("n", 0)), int(r.get("n_aff", 0)), _number(r.get("auc")), _number(r.get("auc_ci_low")),
            _number(r.get("auc_ci_high")), _number(r.get("brier")), _number(calib.get("slope")),
            _number(calib.get("citl")), _number(youden.get("sensitivity")),
            _number(youden.get("specificity")), ev.get("created_at", ""), ev.get("folder", "")))
    return rows


def final_models_data(project: Project, level: str = "patient", how: str = "mean") -> FinalModelsData:
    """Every final model, and per experiment with one its CV row then its stored evaluations."""
    from engine.final import list_evaluations, list_final_models

    if level not in ("patient", "image"):
        raise ValueError(f"level must be 'patient' or 'image', got {level!r}")
    finals = list_final_models(project)
    infos = tuple(final_info(project, f) for f in finals)
    notes, rows = [], []
    latest = {f.experiment: f for f in finals}  # oldest first: the newest of each wins
    for name, final in latest.items():
        try:
            rows.append(_cv_row(project, final, level, how))
        except (ValueError, KeyError, OSError) as exc:  # e.g. one class only in its predictions
            notes.append(f"{name}: no cross-validation figures ({exc.args[0] if exc.args else exc})")
    by_experiment: dict[str, list[EvaluationRow]] = {}
    for ev in list_evaluations(project):
        for row in _evaluation_rows(ev, level):
            by_experiment.setdefault(row.experiment, []).append(row)
    ordered = []
    for name in dict.fromkeys([r.experiment for r in rows] + list(by_experiment)):
        ordered += [r for r in rows if r.experiment == name] + by_experiment.get(name, [])
    return FinalModelsData(level, infos, tuple(ordered), tuple(notes))


def check_external(project: Project, folder: str | Path, experiments: Sequence[str] = ()) -> list[str]:
    """Refuse, with a one-line reason, what ``affengine evaluate --on FOLDER`` would refuse later.

    Returns the experiments to evaluate: ``experiments``, or every one with a final model.
    Raises :class:`engine.errors.EngineError` (a folder that is not a project, the development
    project itself, no labelled image there, no usable final model here).
    """
    from engine.final import FinalModelError, latest_final_model, list_final_models
    from engine.store import Project

    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FinalModelError(f"{path}: no such folder")
    names = list(dict.fromkeys(experiments)) or list(dict.fromkeys(f.experiment
                                                                   for f in list_final_models(project)))
    if not names:
        raise FinalModelError(f"{project.path}: no experiment has a final model yet; make one with "
                              f"`affengine finalize {project.path} -e NAME`")
    for name in names:
        latest_final_model(project, name)
    with Project.open(path) as other:
        if other.path == project.path:
            raise FinalModelError(f"{path} is the development project itself; an external set is "
                                  "another project")
        n = other.query("SELECT COUNT(*) FROM labels WHERE label IN ('AFF', 'NFF')")[0][0]
        if not n:
            raise FinalModelError(f"{other.path}: no image is labelled AFF or NFF; an external "
                                  "evaluation needs labelled images")
    return names


def queue_screening(project: Project, experiment: str) -> tuple[int, int]:
    """Queue a ``predict`` job for the unlabelled images with ``experiment``'s newest final model.

    Returns ``(job id, number of images)``; refuses (one line) without a usable final model or
    without unlabelled images.
    """
    from engine.final import submit_predict
    from engine.jobs import JobQueue

    job_id = submit_predict(project, experiment, "unlabelled")
    return job_id, len(JobQueue(project).get(job_id).spec["image_ids"])


def first_line(exc: BaseException) -> str:
    """A user-facing one-line message for ``exc`` (no traceback, KeyError's quotes dropped)."""
    text = str(exc.args[0]) if exc.args else (str(exc) or type(exc).__name__)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
