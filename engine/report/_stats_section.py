"""The report's further statistics: partial AUC, held-out operating points, calibration fit,
non-inferiority / equivalence against a margin, and decision curves.

Everything is a JSON-ready dict (``ReportData.statistics``): ``tables`` (header + rows,
also written as CSV), ``decision_curves`` (for the figure), ``noninferiority`` (for the
answer text) and ``notes`` (what could not be computed, and why).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from engine.evaluate import (
    NearPerfectAucWarning,
    Predictions,
    align_predictions,
    bootstrap_partial_auc,
    bootstrap_partial_auc_difference,
    calibration_fit,
    comparison_pairs,
    decision_curve,
    held_out_mcnemar,
    held_out_operating_point,
    margin_test_bootstrap,
    margin_test_delong,
    to_jsonable,
)

PAUC_RANGE = (0.9, 1.0)  # sensitivity
STATS_TITLES = {
    "partial_auc": "Partial AUC, sensitivity 0.9-1.0",
    "partial_auc_comparisons": "Partial AUC comparisons",
    "operating_points": "Operating points (thresholds from training data)",
    "operating_point_mcnemar": "McNemar at held-out thresholds",
    "calibration_fit": "Calibration intercept and slope, ECE",
    "noninferiority": "Non-inferiority and equivalence (ViT - CNN)",
}
STATS_NOTES = {
    "partial_auc": "Area under the ROC curve where sensitivity is 0.9-1.0, integrated over sensitivity "
                   "(pROC's partial.auc = c(1, .9), focus sensitivity): raw (at most 0.1) and McClish-"
                   "standardised (0.5 = chance, 1 = perfect). CIs: stratified patient bootstrap.",
    "partial_auc_comparisons": "Difference of standardised pAUCs (first - second); paired patient "
                               "bootstrap, the same resamples for both; p not Holm-adjusted.",
    "operating_points": "Each outer fold's threshold is chosen on that fold's model's predictions on its own "
                        "training images (train_predictions.csv) and applied to its held-out images; the "
                        "decisions of all folds are pooled. Wilson CIs treat cases as independent (correct "
                        "for patients, too narrow for images); bootstrap CIs resample patients with the "
                        "thresholds fixed. Training predictions are optimistic (the model saw those images), "
                        "so a threshold from them can sit too high.",
    "operating_point_mcnemar": "Patient level, each model at its held-out thresholds; b = first right and "
                               "second wrong, c = the reverse; exact binomial below 25 discordant pairs.",
    "calibration_fit": "Logistic recalibration: slope from logit P(AFF) = a + b logit(p) (1 ideal, < 1 "
                       "over-confident); intercept with the slope fixed at 1 (0 ideal, < 0 predicts too "
                       "much AFF). Wald CIs. ECE over the stated bins. The reliability figure shows each "
                       "bin's Wilson CI.",
    "noninferiority": "One-sided test of H0 ViT - CNN <= -M (non-inferiority) and TOST of |ViT - CNN| >= M "
                      "(equivalence) at alpha 0.05; the CI is the 90% interval TOST uses. Patient level: "
                      "paired DeLong variance; image level: patient bootstrap.",
}


def _pauc(preds: dict[str, Predictions], names, reference, level, how, n_boot, seed, conf_level):
    ev = {n: (preds[n].to_patients(how) if level == "patient" else preds[n]) for n in names}
    header = ["experiment", "level", "sensitivity_from", "sensitivity_to", "pauc", "pauc_ci_low",
              "pauc_ci_high", "pauc_standardised", "std_ci_low", "std_ci_high", "below_diagonal"]
    rows = []
    for n in names:
        e = ev[n]
        b = bootstrap_partial_auc(e.labels, e.scores, e.patients, n_boot=n_boot, seed=seed,
                                  conf_level=conf_level)
        rows.append([n, level, *PAUC_RANGE, b.pauc.raw, b.ci_low, b.ci_high, b.pauc.standardised,
                     b.std_ci_low, b.std_ci_high, b.pauc.below_diagonal])
    comp = ["first", "second", "difference", "ci_low", "ci_high", "p_value", "p_mid"], []
    if len(names) > 1:
        aligned = dict(zip(names, align_predictions(*(ev[n] for n in names))))
        for i, j in comparison_pairs(names, reference):
            a, b = aligned[names[i]], aligned[names[j]]
            c = bootstrap_partial_auc_difference(a.labels, a.scores, b.scores, a.patients, n_boot=n_boot,
                                                 seed=seed, conf_level=conf_level)
            comp[1].append([names[i], names[j], c.estimate, c.ci_low, c.ci_high, c.p_value, c.p_mid])
    return (header, rows), comp


def _operating(preds, train, names, how, n_boot, seed, conf_level, notes):
    header = ["experiment", "level", "rule", "thresholds", "tp", "fn", "fp", "tn", "metric", "estimate", "k",
              "n", "wilson_low", "wilson_high", "boot_low", "boot_high"]
    rows, points = [], {}
    for n in names:
        if n not in train:
            continue
        for level in ("patient", "image"):
            for rule in ("youden", "sens90"):
                try:
                    op = held_out_operating_point(preds[n], train[n], rule, level, how, n_boot, seed,
                                                  conf_level)
                except ValueError as exc:
                    notes.append(f"operating points of {n} ({level}, {rule}): {exc}")
                    continue
                points[(n, level, rule)] = op
                th = "; ".join(f"fold {f}: {t:.4g}" for f, t in sorted(op.thresholds.items()))
                for m in op.metrics.values():
                    rows.append([n, level, rule, th, op.tp, op.fn, op.fp, op.tn, m.name, m.estimate, m.k, m.n,
                                 m.wilson_low, m.wilson_high, m.boot_low, m.boot_high])
    mc = ["first", "second", "level", "rule", "b", "c", "statistic", "p_value", "method"], []
    with_points = [n for n in names if (n, "patient", "youden") in points]
    for a, b in combinations(with_points, 2):
        for rule in ("youden", "sens90"):
            if (a, "patient", rule) in points and (b, "patient", rule) in points:
                t = held_out_mcnemar(points[(a, "patient", rule)], points[(b, "patient", rule)])
                mc[1].append([a, b, "patient", rule, t.b, t.c, t.statistic, t.p_value, t.method])
    return (header, rows), mc


def _calibration(preds, names, how, conf_level):
    header = ["experiment", "level", "intercept", "intercept_ci_low", "intercept_ci_high", "slope",
              "slope_ci_low", "slope_ci_high", "ece", "ece_bins", "ece_binning", "n", "n_clipped",
              "converged"]
    rows = []
    for n in names:
        for level in ("patient", "image"):
            e = preds[n].to_patients(how) if level == "patient" else preds[n]
            f = calibration_fit(e.labels, e.scores, conf_level=conf_level)
            rows.append([n, level, f.intercept, f.intercept_ci_low, f.intercept_ci_high, f.slope,
                         f.slope_ci_low, f.slope_ci_high, f.ece, f.ece_bins,
                         "equal-width on [0, 1]" if f.ece_strategy == "uniform" else f.ece_strategy, f.n,
                         f.n_clipped, f.converged])
    return header, rows


def _noninferiority(preds, families, names, margin, how, n_boot, seed):
    header = ["vit", "cnn", "margin", "level", "method", "difference", "se", "ci90_low", "ci90_high",
              "p_noninferior", "p_equivalence", "noninferior", "equivalent"]
    rows, found = [], []
    vits = [n for n in names if families.get(n) == "vit"]
    cnns = [n for n in names if families.get(n) == "cnn"]
    for v in vits:
        for c in cnns:
            a, b = align_predictions(preds[v], preds[c])
            pa, pb = a.to_patients(how), b.to_patients(how)
            tests = {"patient": margin_test_delong(pa.labels, pa.scores, pb.scores, margin),
                     "image": margin_test_bootstrap(a.labels, a.scores, b.scores, margin, patients=a.patients,
                                                    n_boot=n_boot, seed=seed)}
            for level, t in tests.items():
                rows.append([v, c, margin, level, t.method, t.difference, t.se, t.ci_low, t.ci_high,
                             t.p_noninferior, t.p_equivalence, t.noninferior, t.equivalent])
                found.append({"vit": v, "cnn": c, "level": level, "method": t.method, "margin": margin,
                              "difference": t.difference, "p_noninferior": t.p_noninferior,
                              "p_equivalence": t.p_equivalence, "noninferior": t.noninferior,
                              "equivalent": t.equivalent, "ci_low": t.ci_low, "ci_high": t.ci_high})
    return (header, rows), found


def statistics_section(preds: dict[str, Predictions], families: dict[str, str], level: str, how: str,
                       n_boot: int, seed: int, conf_level: float, reference: str | None = None,
                       margin: float | None = None,
                       train: dict[str, dict[int, Predictions]] | None = None,
                       train_missing: Sequence[str] = ()) -> dict:
    """All further statistics of the named experiments, as a JSON-ready dict (see the module doc)."""
    names = list(preds)
    notes = [f"no held-out operating points for {m}" for m in train_missing]
    tables = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearPerfectAucWarning)  # flagged in the comparison rows
        tables["partial_auc"], tables["partial_auc_comparisons"] = _pauc(
            preds, names, reference, level, how, n_boot, seed, conf_level)
        tables["operating_points"], tables["operating_point_mcnemar"] = _operating(
            preds, train or {}, names, how, n_boot, seed, conf_level, notes)
        tables["calibration_fit"] = _calibration(preds, names, how, conf_level)
        ni = []
        if margin is not None:
            tables["noninferiority"], ni = _noninferiority(preds, families, names, margin, how, n_boot, seed)
            if not ni:
                notes.append("non-inferiority needs a ViT and a CNN experiment")
    curves = {}
    for n in names:
        e = preds[n].to_patients(how) if level == "patient" else preds[n]
        curves[n] = decision_curve(e.labels, e.scores)
    first = next(iter(curves.values()))
    dca = {"level": level, "thresholds": first.thresholds, "treat_all": first.treat_all,
           "prevalence": first.prevalence, "net_benefit": {n: c.net_benefit for n, c in curves.items()}}
    return to_jsonable({"margin": margin, "level": level,
                        "tables": {k: {"header": h, "rows": r} for k, (h, r) in tables.items()},
                        "decision_curves": dca, "noninferiority": ni, "notes": notes})


def stats_tables(section: dict | None) -> dict[str, tuple[list[str], list[list]]]:
    """The section's tables as ``{key: (header, rows)}`` (empty without a section)."""
    if not section:
        return {}
    return {k: (t["header"], t["rows"]) for k, t in section["tables"].items()}


def decision_curve_figure(section: dict) -> str:
    """Net benefit against threshold probability, with treat all and treat none (base64 PNG)."""
    from engine.report._plots import _figure, png_base64

    d = section["decision_curves"]
    pt = np.asarray(d["thresholds"], dtype=np.float64)
    fig = _figure()
    ax = fig.add_subplot()
    for name, nb in d["net_benefit"].items():
        ax.plot(pt, np.asarray(nb, dtype=np.float64), lw=1.6, label=name)
    ax.plot(pt, np.asarray(d["treat_all"], dtype=np.float64), ls="--", color="grey", lw=1, label="treat all")
    ax.axhline(0.0, ls=":", color="black", lw=1, label="treat none")
    prev = float(d["prevalence"])
    ax.set(xlabel="threshold probability", ylabel="net benefit", xlim=(0, 1),
           ylim=(-0.05, max(prev, 0.05) * 1.1), title=f"Decision curves, {d['level']} level")
    ax.legend(loc="upper right", fontsize=7)
    return png_base64(fig)


def stats_html(section: dict | None, render_table) -> str:
    """The section's tables with their titles and notes (``render_table`` draws one table)."""
    import html

    if not section:
        return ""
    parts = []
    for key, table in stats_tables(section).items():
        parts.append(f"<h2>{html.escape(STATS_TITLES.get(key, key))}</h2>")
        if key in STATS_NOTES:
            parts.append(f"<p class='note'>{html.escape(STATS_NOTES[key])}</p>")
        parts.append(render_table(table) if table[1] else "<p class='note'>Nothing to show.</p>")
    if section["notes"]:
        parts.append("<p class='note'>" + "<br>".join(html.escape(n) for n in section["notes"]) + "</p>")
    return "\n".join(parts)
