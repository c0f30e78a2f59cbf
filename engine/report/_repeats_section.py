"""The report's repeated-CV section: per-repeat AUCs with mean and SD, and the corrected t-test.

Built from every (repeat, seed) an experiment trained (``engine.evaluate.load_repeated_predictions``);
the rest of the report uses the first repeat and seed only. An experiment whose other repeats
have not finished is listed with what is missing instead of numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store import Project

NOTE = ("One AUC per repeat (and training seed): the repeat's K out-of-fold runs pooled, so every image "
        "has one prediction. Mean and sample SD across repeats are the primary numbers; the SD is split "
        "and seed variability, not a sampling CI.")
TEST_NOTE = ("Corrected resampled t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004) on the J = R x K "
             "(x S) paired per-fold AUC differences, variance factor 1/J + n_test/n_train, df = J - 1. "
             "DeLong p: paired DeLong test on each repeat's pooled predictions.")


def repeats_section(project: Project, names: Sequence[str], level: str = "patient",
                    how: str = "mean") -> dict:
    """JSON-ready per-repeat AUCs of every experiment and the corrected test for every pair."""
    from engine.evaluate import (
        ExperimentNotReady,
        compare_repeated,
        load_repeated_predictions,
        repeated_summary,
    )

    loaded, experiments, incomplete = {}, [], {}
    for n in names:
        try:
            loaded[n] = load_repeated_predictions(project, n)
        except ExperimentNotReady as exc:
            incomplete[n] = str(exc)
            continue
        s = repeated_summary(loaded[n], how)
        experiments.append({
            "experiment": n, "k": s.k, "repeats": list(s.repeats), "seeds": list(s.seeds),
            "rows": [{"run": f"r{r.repeat}s{r.seed}", "repeat": r.repeat, "seed": r.seed,
                      "image_auc": r.image_auc, "patient_auc": r.patient_auc, "images": r.images,
                      "patients": r.patients} for r in s.rows],
            "image_mean": s.image_mean, "image_sd": s.image_sd,
            "patient_mean": s.patient_mean, "patient_sd": s.patient_sd})
    tuning = _tuning_rows(project, names)
    comparisons = []
    for a, b in combinations(list(loaded), 2):
        try:
            c = compare_repeated(loaded[a], loaded[b], level=level, how=how)
        except ValueError as exc:
            comparisons.append({"first": a, "second": b, "level": level, "error": str(exc)})
            continue
        t = c.ttest
        comparisons.append({
            "first": a, "second": b, "level": level, "pairs": t.n_pairs, "mean_difference": t.mean_difference,
            "se": t.se, "t": t.t, "df": t.df, "p_value": t.p_value, "ci_low": t.ci_low, "ci_high": t.ci_high,
            "n_test": c.n_test, "n_train": c.n_train,
            "delong": [{"repeat": d.repeat, "seed": d.seed, "auc_a": d.auc_a, "auc_b": d.auc_b,
                        "p_value": d.p_value} for d in c.per_repeat]})
    return {"experiments": experiments, "comparisons": comparisons, "incomplete": incomplete,
            "tuning": tuning}


def _tuning_rows(project: Project, names: Sequence[str]) -> list[dict]:
    """The values each tuned run chose (``tuning/tuning.json`` of its finished job)."""
    from engine.experiments import experiment_jobs
    from engine.tune import read_tuning

    rows = []
    for n in names:
        for job in experiment_jobs(project, n):
            if job.state != "finished" or job.fold is None:
                continue
            t = read_tuning(project.runs_dir / job.run_id)
            if t is not None:
                rows.append({"experiment": n, "run": job.label, "budget": t["budget"],
                             "best_inner_auc": t["best_inner_auc"], **t["chosen"]})
    return rows


def tuning_table(section: dict):
    header = ["experiment", "run", "lr", "weight_decay", "augment", "best_inner_auc", "budget"]
    return header, [[r[h] for h in header] for r in section.get("tuning", [])]


def repeats_table(section: dict):
    header = ["experiment", "run", "repeat", "seed", "image_auc", "patient_auc", "images", "patients"]
    rows = []
    for e in section["experiments"]:
        rows += [[e["experiment"]] + [r[h] for h in header[1:]] for r in e["rows"]]
        rows.append([e["experiment"], "mean", "", "", e["image_mean"], e["patient_mean"], "", ""])
        rows.append([e["experiment"], "SD", "", "", e["image_sd"], e["patient_sd"], "", ""])
    return header, rows


def repeated_tests_table(section: dict):
    header = ["first", "second", "level", "pairs", "mean_difference", "ci_low", "ci_high", "t", "df",
              "p_value", "delong_p_per_repeat"]
    rows = []
    for c in section["comparisons"]:
        if "error" in c:
            rows.append([c["first"], c["second"], c["level"]] + [""] * 7 + [c["error"]])
            continue
        per = "; ".join(f"r{d['repeat']}s{d['seed']} {d['p_value']:.3g}" for d in c["delong"])
        rows.append([c[h] for h in header[:-1]] + [per])
    return header, rows


REPEAT_TABLES = {"repeats": repeats_table, "repeated_tests": repeated_tests_table,
                 "tuning": tuning_table}


def repeats_html(section: dict | None, table_html) -> str:
    """The section's HTML (``table_html`` renders a header + rows table); empty without a section."""
    if not section:
        return ""
    parts = ["<h2>Repeated cross-validation</h2>", f"<p class='note'>{html.escape(NOTE)}</p>",
             table_html(repeats_table(section))]
    for name, why in section["incomplete"].items():
        parts.append(f"<p class='note'>{html.escape(name)}: {html.escape(why)}</p>")
    if section.get("tuning"):
        budgets = sorted({r["budget"] for r in section["tuning"]})
        parts += ["<h3>Tuned values</h3>",
                  f"<p class='note'>Optuna (TPE, median pruner) on inner patient-grouped folds of each outer "
                  f"training fold; {html.escape('; '.join(budgets))}.</p>", table_html(tuning_table(section))]
    if section["comparisons"]:
        parts += ["<h3>Corrected resampled t-test across repeats and folds</h3>",
                  f"<p class='note'>{html.escape(TEST_NOTE)}</p>", table_html(repeated_tests_table(section))]
    return "\n".join(parts)
