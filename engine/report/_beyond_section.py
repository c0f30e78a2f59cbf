"""Report sections beyond cross-validation: the held-out test and external evaluations.

Each evaluation (``engine.final.evaluate_final_models``) is its own section with its own
tables; every row names the evaluation set, and nothing here is pooled with the internal
(cross-validation) figures of the rest of the report.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store import Project

INTERNAL = "internal (cross-validation)"
_RECAL = ("citl", "citl_ci_low", "citl_ci_high", "slope", "slope_ci_low", "slope_ci_high",
          "observed_expected", "note")
_POINT = ("threshold", "sensitivity", "specificity", "ppv", "npv", "balanced_accuracy",
          "tn", "fp", "fn", "tp")
_COMPARE = ("first", "second", "auc_first", "auc_second", "difference", "delong_ci_low", "delong_ci_high",
            "p_delong", "p_delong_holm", "boot_ci_low", "boot_ci_high", "p_boot", "p_boot_holm", "mcnemar_b",
            "mcnemar_c", "p_mcnemar")


def _prefix(ev: dict) -> str:
    return "test" if ev["kind"] == "test" else "external"


def evaluation_name(ev: dict) -> str:
    return "held-out test" if ev["kind"] == "test" else ev["target"]


def evaluation_tables(ev: dict) -> dict[str, tuple[list[str], list[list]]]:
    """``<test|external>_results``, ``_operating_points`` and ``_comparisons`` of one evaluation."""
    pre, where = _prefix(ev), evaluation_name(ev)
    res_h = ["evaluation", "experiment", "final_model_id", "mode", "level", "n", "n_aff", "auc", "auc_ci_low",
             "auc_ci_high", "ap", "prevalence", "brier", *_RECAL]
    res, pts = [], []
    pts_h = ["evaluation", "experiment", "level", "rule", "fixed_on", *_POINT]
    for e in ev["experiments"]:
        for level in ("patient", "image"):
            r = e[level]
            res.append([where, e["experiment"], e["final_model_id"], e["mode"], level, r["n"], r["n_aff"],
                        r["auc"], r["auc_ci_low"], r["auc_ci_high"], r["ap"], r["prevalence"], r["brier"],
                        *(r["recalibration"][k] for k in _RECAL)])
            pts += [[where, e["experiment"], level, p["rule"], p["fixed_on"], *(p[k] for k in _POINT)]
                    for p in r["operating_points"]]
    cmp_h = ["evaluation", "level", *_COMPARE]
    cmp = [[where, ev["level"], *(c[k] for k in _COMPARE)] for c in ev["comparisons"]]
    return {f"{pre}_results": (res_h, res), f"{pre}_operating_points": (pts_h, pts),
            f"{pre}_comparisons": (cmp_h, cmp)}


def evaluation_html(ev: dict, table_html) -> str:
    """One evaluation's section: heading, what the set is, its answer and its tables."""
    d = ev["data"]
    title = ("Held-out test" if ev["kind"] == "test" else f"External validation: {ev['target']}")
    parts = [f"<h2>{html.escape(title)}</h2>",
             f"<p class='note'>{html.escape(ev['target'])}: {d['images']} images, {d['patients']} patients "
             f"({d['aff_patients']} with AFF), scored by each experiment's final model. Not part of the "
             f"{INTERNAL} figures above. Thresholds were fixed on the cross-validation predictions before "
             "these images were scored; calibration in the large (0 ideal) and slope (1 ideal) are logistic "
             "recalibration fits with Wald CIs.</p>",
             f"<div class='answer'>{html.escape(ev['answer'])}</div>"]
    captions = {"results": "Discrimination and calibration", "operating_points":
                "Operating points at the cross-validation thresholds", "comparisons": "Paired comparison"}
    for key, table in evaluation_tables(ev).items():
        if not table[1]:
            continue
        parts.append(f"<h3>{html.escape(captions[key.split('_', 1)[1]])}</h3>{table_html(table)}")
    return "\n".join(parts)


def evaluations_html(evaluations: Sequence[dict], table_html) -> str:
    return "\n".join(evaluation_html(ev, table_html) for ev in evaluations)


def evaluation_sections(project: Project, names: Sequence[str]) -> list[dict]:
    """The newest stored evaluation per evaluation set that scored any of ``names``, held-out test
    first, keeping only the rows of those experiments."""
    from engine.final import list_evaluations

    wanted = set(names)
    newest: dict[tuple, dict] = {}
    for ev in list_evaluations(project):
        rows = [e for e in ev["experiments"] if e["experiment"] in wanted]
        if not rows:
            continue
        ev = {**ev, "experiments": rows,
              "comparisons": [c for c in ev["comparisons"] if {c["first"], c["second"]} <= wanted]}
        newest[(ev["kind"], ev["source"])] = ev
    return sorted(newest.values(), key=lambda ev: (ev["kind"] != "test", ev["target"]))
