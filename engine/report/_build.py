"""Assembling the report's numbers: the core results from ``_data``, then every section.

Above ``_data`` (the report's records and core numbers) and the ``_*_section``
modules, so those never import back into the module that builds on them. A
new section's builder call goes here (and its field into ``ReportData``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.evaluate import (
    ComputeCost,
    ExperimentNotReady,
    ExperimentRuns,
    Predictions,
    align_predictions,
    check_margin,
    compute_cost,
    experiment_runs,
    load_experiment_predictions,
    load_training_predictions,
    results_from_predictions,
)
from engine.report._data import DataSummary, ReportData, _pretraining, comparison_rows, data_summary

if TYPE_CHECKING:
    from engine.store import Project


def assemble_report(preds: dict[str, Predictions], runs: dict[str, ExperimentRuns], specs: dict[str, dict],
                    compute: list[ComputeCost], data: DataSummary, reference: str | None = None,
                    level: str = "patient", how: str = "mean", n_boot: int = 2000, seed: int = 0,
                    conf_level: float = 0.95, margin: float | None = None,
                    train: dict[str, dict[int, Predictions]] | None = None,
                    train_missing: Sequence[str] = ()) -> ReportData:
    """The report's numbers from experiments already loaded (``preds``, ``runs``, ``specs`` keyed by name).

    ``train[name][fold]``: that fold's model's predictions on its training images (held-out
    thresholds); ``margin``: the non-inferiority / equivalence margin of ViT - CNN.
    """
    from engine.report._answers import study_answers
    from engine.report._stats_section import statistics_section
    from engine.store import utc_now

    if margin is not None:
        margin = check_margin(margin)

    names = list(preds)
    if not names:
        raise ValueError("name at least one experiment")
    if reference is not None and reference not in names:
        raise ValueError(f"the reference {reference!r} is not among the experiments {names}")
    if level not in ("patient", "image"):
        raise ValueError(f"level must be 'patient' or 'image', got {level!r}")
    if len(names) > 1:
        align_predictions(*preds.values())  # refuses different splits / images before any work
    results = [results_from_predictions(preds[n], runs[n], how, conf_level) for n in names]
    comparisons = comparison_rows(list(preds.values()), reference, level, how, n_boot, seed, conf_level)
    pre, did = _pretraining(preds, runs, specs, level, how, n_boot, seed, conf_level)
    report = ReportData(created_at=utc_now(), level=level, patient_rule=how, reference=reference,
                        conf_level=conf_level, n_boot=n_boot, seed=seed, data=data, experiments=results,
                        compute=compute, comparisons=comparisons, pretraining=pre, diff_in_diff=did,
                        margin=margin)
    stats = statistics_section(preds, {r.name: r.family for r in results}, level, how, n_boot, seed,
                               conf_level, reference, margin, train, train_missing)
    report = dataclasses.replace(report, statistics=stats)
    return dataclasses.replace(report, answers=study_answers(report))


def build_report_data(project: Project, names: Sequence[str], reference: str | None = None,
                      level: str = "patient", how: str = "mean", n_boot: int = 2000, seed: int = 0,
                      conf_level: float = 0.95, margin: float | None = None) -> ReportData:
    """All numbers of the report for the named experiments (which must share one split)."""
    from engine.experiments import get_experiment

    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("name at least one experiment")
    if reference is not None and reference not in names:
        raise ValueError(f"the reference {reference!r} is not among the experiments {names}")
    runs = {n: experiment_runs(project, n) for n in names}
    preds = {n: load_experiment_predictions(project, n) for n in names}
    specs = {n: get_experiment(project, n).spec for n in names}
    train, missing = {}, []
    for n in names:
        try:
            train[n] = load_training_predictions(project, n)
        except ExperimentNotReady as exc:
            missing.append(f"{n}: {exc.args[0]}")
    report = assemble_report(preds, runs, specs, [compute_cost(project, n) for n in names],
                             data_summary(project, runs[names[0]]), reference, level, how, n_boot, seed,
                             conf_level, margin, train, missing)
    from engine.report._explain_section import explain_section

    section, figures = explain_section(project, names, {e.name: e.family for e in report.experiments},
                                       n_boot, seed)
    from engine.report._beyond_section import evaluation_sections
    from engine.report._methods_section import methods_section
    from engine.report._readers_section import readers_section
    from engine.report._repeats_section import repeats_section

    report = dataclasses.replace(report, explain=section, explain_figures=figures,
                                 readers=readers_section(project, names, reference, level),
                                 evaluations=evaluation_sections(project, names),
                                 repeats=repeats_section(project, names, level, how),
                                 methods=methods_section(project, names, level))
    from engine.report._answers import study_answers

    return dataclasses.replace(report, answers=study_answers(report))  # answer 1 uses the repeats
