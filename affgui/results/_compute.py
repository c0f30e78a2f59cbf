"""What the Results view shows, computed off the GUI thread from the engine's public API.

Each function takes an open :class:`~engine.store.Project` and returns plain frozen
dataclasses (numpy arrays and floats) for the widgets; nothing here imports Qt or torch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.evaluate import ComputeCost, ExperimentResults
    from engine.store import Project

LEVELS = ("patient", "image")
N_BOOT = 2000
SEED = 0


@dataclass(frozen=True)
class ExperimentStatus:
    """One experiment in the picker: how many folds finished, and why it cannot be plotted yet."""

    name: str
    model: str
    pretrained: bool
    finished: int
    total: int
    reason: str | None  # None: complete, its results can be shown
    waiting: str = ""  # the unfinished folds' job states, e.g. "1 running, 1 queued"

    @property
    def ready(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class ComparisonRow:
    """AUC difference ``first - second`` with DeLong and patient-bootstrap inference, Holm per method."""

    first: str
    second: str
    auc_first: float
    auc_second: float
    difference: float
    delong_ci_low: float | None
    delong_ci_high: float | None
    p_delong: float | None
    p_delong_holm: float | None
    boot_ci_low: float
    boot_ci_high: float
    p_boot: float
    p_boot_holm: float
    significant: bool  # Holm-adjusted p of the primary method (DeLong if given, else bootstrap) < alpha


@dataclass(frozen=True)
class ResultsData:
    """Everything one request of the page produced; ``notes`` explain what could not be computed."""

    level: str
    results: tuple[ExperimentResults, ...]
    comparison: tuple[ComparisonRow, ...]
    costs: tuple[ComputeCost, ...]
    notes: tuple[str, ...]


def list_status(project: Project) -> list[ExperimentStatus]:
    """Every experiment of ``project`` with its finished/total fold count and readiness."""
    from engine.evaluate import ExperimentNotReady, experiment_runs
    from engine.jobs import experiment_jobs, list_experiments

    out = []
    for exp in list_experiments(project):
        jobs = experiment_jobs(project, exp.name)
        rows = project.query("SELECT k FROM splits WHERE id = ?", (exp.split_id,))
        total = int(rows[0][0]) if rows else len({j.fold for j in jobs})
        done_folds = {j.fold for j in jobs if j.state == "finished"}
        finished = len(done_folds)
        states = Counter(j.state for j in jobs if j.fold not in done_folds)
        waiting = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        try:
            experiment_runs(project, exp.name)
            reason = None
        except (ExperimentNotReady, KeyError) as exc:
            reason = str(exc.args[0]) if exc.args else str(exc)
        out.append(ExperimentStatus(name=exp.name, model=exp.model,
                                    pretrained=bool(exp.spec.get("pretrained")), finished=finished,
                                    total=total, reason=reason, waiting=waiting))
    return out


def _opt(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def comparison_rows(preds: Sequence, reference: str | None, level: str, how: str = "mean",
                    n_boot: int = N_BOOT, seed: int = SEED, alpha: float = 0.05) -> tuple[list[ComparisonRow],
                                                                                        str | None]:
    """Both tests for every pair (or each against ``reference``); a note when DeLong does not apply."""
    from engine.evaluate import compare_experiments

    if len(preds) < 2:
        return [], None
    boot = compare_experiments(preds, reference, level=level, how=how, method="bootstrap", n_boot=n_boot,
                               seed=seed)
    delong, note = None, None
    try:
        delong = compare_experiments(preds, reference, level=level, how=how, method="delong")
    except ValueError as exc:
        if level == "patient":
            raise
        note = f"DeLong not shown at image level: {exc}"
    rows = []
    for i in range(len(boot.first)):
        primary = delong.p_holm[i] if delong is not None else boot.p_holm[i]
        rows.append(ComparisonRow(
            first=boot.first[i], second=boot.second[i], auc_first=float(boot.auc_first[i]),
            auc_second=float(boot.auc_second[i]), difference=float(boot.difference[i]),
            delong_ci_low=_opt(delong.ci_low[i]) if delong is not None else None,
            delong_ci_high=_opt(delong.ci_high[i]) if delong is not None else None,
            p_delong=_opt(delong.p_value[i]) if delong is not None else None,
            p_delong_holm=_opt(delong.p_holm[i]) if delong is not None else None,
            boot_ci_low=float(boot.ci_low[i]), boot_ci_high=float(boot.ci_high[i]),
            p_boot=float(boot.p_value[i]), p_boot_holm=float(boot.p_holm[i]),
            significant=bool(primary < alpha)))
    return rows, note


def compute_results(project: Project, names: Sequence[str], level: str = "patient", *,
                    reference: str | None = None, how: str = "mean", n_boot: int = N_BOOT,
                    seed: int = SEED, cancelled=lambda: False) -> ResultsData:
    """Curves, comparison and compute cost of the named (complete) experiments at ``level``.

    ``cancelled()`` is polled between experiments; it may raise to abandon the request.
    """
    from engine.evaluate import (
        ExperimentNotReady,
        compute_cost,
        experiment_runs,
        load_experiment_predictions,
        results_from_predictions,
    )

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    notes, preds, results, costs = [], [], [], []
    for name in dict.fromkeys(names):
        cancelled()
        try:
            runs = experiment_runs(project, name)
            pred = load_experiment_predictions(project, name)
        except (ExperimentNotReady, KeyError) as exc:
            notes.append(str(exc.args[0]) if exc.args else str(exc))
            continue
        try:
            result = results_from_predictions(pred, runs, how)
        except ValueError as exc:  # e.g. one class only: no ROC; say which experiment, show the others
            notes.append(f"{name}: {exc}")
            continue
        preds.append(pred)
        results.append(result)
        try:
            costs.append(compute_cost(project, name))
        except (OSError, ValueError) as exc:
            notes.append(f"compute cost of {name!r}: {exc}")
    cancelled()
    if reference is not None and reference not in [p.name for p in preds]:
        reference = None
    rows: list[ComparisonRow] = []
    if len(preds) >= 2:
        try:
            rows, note = comparison_rows(preds, reference, level, how, n_boot, seed)
            if note:
                notes.append(note)
        except ValueError as exc:
            notes.append(f"no comparison: {exc}")
    return ResultsData(level=level, results=tuple(results), comparison=tuple(rows), costs=tuple(costs),
                       notes=tuple(notes))
