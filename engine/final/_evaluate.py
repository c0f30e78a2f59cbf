"""Evaluate final models on a held-out test set or an external project.

Discrimination (AUC with DeLong CI, AP), calibration (Brier, reliability curve, calibration in
the large and slope), operating points at the thresholds fixed on the cross-validation
predictions, and the paired comparison of the final models on the same cases.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.final._calibration import recalibration
from engine.final._members import FinalModelError
from engine.final._store import FinalModel, latest_final_model
from engine.final._targets import TEST, Target, check_never_seen, external_target, resolve_target, test_target

if TYPE_CHECKING:
    from engine.evaluate import Predictions
    from engine.store import Project

EVALUATION = "evaluation.json"
RULES = ("youden", "sensitivity", "specificity")


def _level(pred: Predictions, final: FinalModel, level: str, conf_level: float) -> dict:
    from engine.evaluate import (
        average_precision,
        brier_score,
        calibration_curve,
        delong_ci,
        operating_point,
        roc_curve,
        to_jsonable,
    )

    y, s = pred.labels, pred.scores
    auc = delong_ci(y, s, conf_level)
    points = []
    for rule in RULES:
        t = final.thresholds(level)[rule]
        op = operating_point(y, s, t, rule)
        tn, fp, fn, tp = (int(v) for v in np.asarray(op.confusion).ravel())
        points.append(to_jsonable({"rule": rule, "threshold": t, "fixed_on": "cross-validation",
                                   "sensitivity": op.sensitivity, "specificity": op.specificity,
                                   "ppv": op.ppv, "npv": op.npv, "balanced_accuracy": op.balanced_accuracy,
                                   "tn": tn, "fp": fp, "fn": fn, "tp": tp}))
    roc = roc_curve(y, s)
    return to_jsonable({
        "level": level, "n": len(y), "n_aff": int(y.sum()), "auc": auc.auc, "auc_ci_low": auc.ci_low,
        "auc_ci_high": auc.ci_high, "auc_se": auc.se, "ap": average_precision(y, s),
        "prevalence": float(y.mean()), "brier": brier_score(y, s),
        "recalibration": recalibration(y, s, conf_level), "calibration": calibration_curve(y, s),
        "operating_points": points, "roc": {"fpr": roc.fpr, "tpr": roc.tpr}})


def _comparisons(preds: dict[str, Predictions], finals: dict[str, FinalModel], level: str, how: str,
                 n_boot: int, seed: int, conf_level: float) -> list[dict]:
    """Every pair: paired DeLong (patients) and patient bootstrap, Holm-adjusted; McNemar at CV Youden."""
    from engine.evaluate import align_predictions, compare_experiments, mcnemar_at_thresholds, to_jsonable

    if len(preds) < 2:
        return []
    items = list(preds.values())
    boot = compare_experiments(items, level=level, how=how, method="bootstrap", n_boot=n_boot, seed=seed,
                               conf_level=conf_level)
    delong = None
    if level == "patient":
        delong = compare_experiments(items, level=level, how=how, method="delong", conf_level=conf_level)
    aligned = {e.name: (e.to_patients(how) if level == "patient" else e) for e in align_predictions(*items)}
    rows = []
    for i, (a, b) in enumerate(zip(boot.first, boot.second)):
        ea, eb = aligned[a], aligned[b]
        mc = mcnemar_at_thresholds(ea.labels, ea.scores, eb.scores, finals[a].thresholds(level)["youden"],
                                   finals[b].thresholds(level)["youden"])
        rows.append(to_jsonable({
            "first": a, "second": b, "auc_first": boot.auc_first[i], "auc_second": boot.auc_second[i],
            "difference": boot.difference[i],
            "delong_ci_low": delong.ci_low[i] if delong else None,
            "delong_ci_high": delong.ci_high[i] if delong else None,
            "p_delong": delong.p_value[i] if delong else None,
            "p_delong_holm": delong.p_holm[i] if delong else None,
            "boot_ci_low": boot.ci_low[i], "boot_ci_high": boot.ci_high[i], "p_boot": boot.p_value[i],
            "p_boot_holm": boot.p_holm[i], "mcnemar_b": mc.b, "mcnemar_c": mc.c, "p_mcnemar": mc.p_value}))
    return rows


def _answer(ev: dict) -> str:
    kind = "held-out test" if ev["kind"] == TEST else "external"
    d = ev["data"]
    parts = [f"On the {ev['target']} ({d['images']} images, {d['patients']} patients, {d['aff_patients']} "
             f"with AFF), which no model trained, selected epochs or fixed thresholds on:"]
    for e in ev["experiments"]:
        r = e[ev["level"]]
        c = r["recalibration"]
        if c["slope"] is None or c["citl"] is None:
            calib = f"calibration not estimable ({c['note']})"
        else:
            calib = (f"calibration slope {c['slope']:.2f} (CI {c['slope_ci_low']:.2f}-"
                     f"{c['slope_ci_high']:.2f}), calibration in the large {c['citl']:+.2f}")
        parts.append(f"{e['experiment']} AUC {r['auc']:.3f} (95% CI {r['auc_ci_low']:.3f}-"
                     f"{r['auc_ci_high']:.3f}), {calib}.")
    for c in ev["comparisons"]:
        p = c["p_delong_holm"] if c["p_delong_holm"] is not None else c["p_boot_holm"]
        lo = c["delong_ci_low"] if c["delong_ci_low"] is not None else c["boot_ci_low"]
        hi = c["delong_ci_high"] if c["delong_ci_high"] is not None else c["boot_ci_high"]
        verdict = "significant" if p < 0.05 else "not significant"
        parts.append(f"{c['first']} - {c['second']}: {c['difference']:+.3f} (95% CI {lo:+.3f} to "
                     f"{hi:+.3f}, Holm p = {p:.3g}; {verdict} at 0.05).")
    parts.append(f"These are {kind} figures; the cross-validation (internal) figures are reported "
                 "separately and are not pooled with them.")
    return " ".join(parts)


def evaluate_final_models(project: Project, experiments: Sequence[str], on: str = TEST, *,
                          level: str = "patient", how: str = "mean", n_boot: int = 2000, seed: int = 0,
                          conf_level: float = 0.95, device: str = "cpu", batch_size: int = 64,
                          progress: Callable[[str], None] | None = None) -> tuple[dict, dict]:
    """Score each experiment's latest final model on ``on`` (``"test"`` or another project's folder).

    Returns ``(evaluation, predictions)``: the JSON-ready evaluation and the image-level
    :class:`~engine.evaluate.Predictions` per experiment.
    """
    from engine.evaluate import Predictions
    from engine.store import Project, utc_now

    names = list(dict.fromkeys(experiments))
    if not names:
        raise FinalModelError("name at least one experiment")
    if level not in ("patient", "image"):
        raise FinalModelError(f"level must be 'patient' or 'image', got {level!r}")
    where = resolve_target(on)
    finals = {n: latest_final_model(project, n) for n in names}
    other = None if where == TEST else Project.open(where)
    try:
        if other is not None and other.path == project.path:
            raise FinalModelError(f"--on {on} is the development project itself; use --on test")
        targets: dict[str, Target] = {}
        checks = {}
        for n, final in finals.items():
            targets[n] = test_target(project, final) if other is None else external_target(other)
            checks[n] = check_never_seen(project, final, targets[n], other)
        first = targets[names[0]]
        for n in names[1:]:
            if not np.array_equal(targets[n].image_ids, first.image_ids):
                raise FinalModelError(f"{n} and {names[0]} were developed on different splits, so their "
                                      "test sets differ; compare them on an external project instead")
        from engine.final._model import score_images

        preds = {}
        for n, final in finals.items():
            t0 = time.perf_counter()
            scores = score_images(project, final, first.image_ids, pixels_from=other, device=device,
                                  batch_size=batch_size)
            if progress is not None:
                progress(f"{final.label}: {len(scores)} images scored in {time.perf_counter() - t0:.1f} s")
            preds[n] = Predictions(name=n, split_id=first.label, image_ids=first.image_ids,
                                   patients=first.patients, labels=first.labels, scores=scores)
    finally:
        if other is not None:
            other.close()
    results = []
    for n, final in finals.items():
        p = preds[n]
        results.append({"experiment": n, "final_model_id": final.id, "mode": final.mode,
                        "model": final.provenance["model"], "never_seen": checks[n],
                        "image": _level(p, final, "image", conf_level),
                        "patient": _level(p.to_patients(how), final, "patient", conf_level)})
    evaluation = {
        "kind": first.kind, "target": first.label, "source": first.source, "created_at": utc_now(),
        "development_project": str(project.path), "level": level, "patient_rule": how, "n_boot": n_boot,
        "seed": seed, "conf_level": conf_level, "data": first.summary(), "experiments": results,
        "comparisons": _comparisons(preds, finals, level, how, n_boot, seed, conf_level),
        "preprocessing": {n: {"image_size": f.image_size, "mean": f.provenance["mean"],
                              "std": f.provenance["std"]} for n, f in finals.items()},
    }
    evaluation["answer"] = _answer(evaluation)
    return evaluation, preds


def write_evaluation(project: Project, evaluation: dict, preds: dict,
                     out_dir: str | Path | None = None) -> Path:
    """``PROJECT/evaluations/<stamp>-<kind>/``: evaluation.json and one predictions CSV per experiment.

    ``engine.report.write_evaluation_report`` adds the tables and the HTML page.
    """
    root = Path(out_dir) if out_dir is not None else project.path / "evaluations"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        folder = root / (f"{stamp}-{evaluation['kind']}" + (f"-{n}" if n else ""))
        try:
            folder.mkdir(parents=True)
            break
        except FileExistsError:
            continue
    for name, p in preds.items():
        with open(folder / f"predictions_{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(("image_id", "patient_id", "label", "probability"))
            for i, pid, y, s in zip(p.image_ids, p.patients, p.labels, p.scores):
                w.writerow((int(i), pid, int(y), format(float(s), ".9g")))
    text = json.dumps(evaluation, indent=1, allow_nan=False) + "\n"
    (folder / EVALUATION).write_text(text, encoding="utf-8")
    return folder


def list_evaluations(project: Project) -> list[dict]:
    """Stored evaluations of this project, oldest first (each with its ``folder``)."""
    root = project.path / "evaluations"
    out = []
    for path in sorted(root.glob(f"*/{EVALUATION}")):
        try:
            ev = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        ev["folder"] = str(path.parent)
        out.append(ev)
    return out
