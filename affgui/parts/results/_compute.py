"""What the Results view shows, computed off the GUI thread from the engine's public API.

Each function takes an open :class:`~engine.store.Project` and returns plain frozen
dataclasses (numpy arrays and floats) for the widgets; nothing here imports Qt or torch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.evaluate import ComputeCost, ExperimentResults
    from engine.report import ComparisonRow
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
class ResultsData:
    """Everything one request of the page produced; ``notes`` explain what could not be computed."""

    level: str
    results: tuple[ExperimentResults, ...]
    comparison: tuple[ComparisonRow, ...]
    costs: tuple[ComputeCost, ...]
    notes: tuple[str, ...]
    statistics: dict | None = None  # engine.report.statistics_section: pAUC, operating points, margin tests


def list_status(project: Project) -> list[ExperimentStatus]:
    """Every experiment of ``project`` with its finished/total fold count and readiness."""
    from engine.evaluate import ExperimentNotReady, experiment_runs
    from engine.experiments import experiment_jobs, list_experiments

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


def comparison_rows(preds: Sequence, reference: str | None, level: str, how: str = "mean",
                    n_boot: int = N_BOOT, seed: int = SEED) -> tuple[list[ComparisonRow], str | None]:
    """The report's comparison rows (``engine.report.comparison_rows``: DeLong, patient bootstrap,
    Holm within each test); a note when DeLong does not apply (image level, patients with several
    images)."""
    from engine.report import comparison_rows as report_rows

    rows = report_rows(preds, reference, level, how, n_boot, seed, 0.95)
    note = None
    if level == "image" and rows and rows[0].p_delong is None:
        note = ("DeLong not shown at image level: a patient's images are not independent cases; "
                "the patient bootstrap is")
    return rows, note


def compute_results(project: Project, names: Sequence[str], level: str = "patient", *,
                    reference: str | None = None, how: str = "mean", n_boot: int = N_BOOT,
                    seed: int = SEED, cancelled=lambda: False, margin: float | None = None) -> ResultsData:
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
    cancelled()
    stats = _statistics(project, preds, results, level, how, n_boot, seed, reference, margin, notes)
    return ResultsData(level=level, results=tuple(results), comparison=tuple(rows), costs=tuple(costs),
                       notes=tuple(notes), statistics=stats)


def _statistics(project, preds, results, level, how, n_boot, seed, reference, margin, notes) -> dict | None:
    """The report's further statistics for the page (held-out thresholds where training predictions exist)."""
    from engine.evaluate import ExperimentNotReady, load_training_predictions
    from engine.report import statistics_section

    if not preds:
        return None
    train, missing = {}, []
    for p in preds:
        try:
            train[p.name] = load_training_predictions(project, p.name)
        except ExperimentNotReady as exc:
            missing.append(f"{p.name}: {exc.args[0]}")
    by_name = {p.name: p for p in preds}
    try:
        families = {r.name: r.family for r in results}
        section = statistics_section(by_name, families, level, how, n_boot, seed, 0.95, reference, margin,
                                     train, missing)
    except ValueError as exc:
        notes.append(f"no further statistics: {exc}")
        return None
    _add_repeats(project, list(by_name), level, how, section, notes)
    return section


def _add_repeats(project, names, level, how, section, notes) -> None:
    """Per-repeat AUCs and the corrected test across repeats, as two more tables, when repeats exist."""
    from engine.report import REPEAT_TABLES, repeats_section

    try:
        rep = repeats_section(project, names, level, how)
    except ValueError as exc:
        notes.append(f"no repeated-CV statistics: {exc}")
        return
    notes.extend(f"repeated CV: {name}: {why}" for name, why in rep["incomplete"].items())
    if not any(len(e["rows"]) > 1 for e in rep["experiments"]):
        return  # one partition and one seed: the tables above are the whole answer
    for key in ("repeats", "repeated_tests"):
        header, rows = REPEAT_TABLES[key](rep)
        section["tables"][key] = {"header": list(header), "rows": [list(r) for r in rows]}
