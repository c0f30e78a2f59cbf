"""The model card of a final model: Markdown for people, JSON with the same content for tools.

Everything in it comes from stored results: the provenance, the pooled out-of-fold
(internal) results, the newest stored held-out test and external evaluations, and the ROI
measures of the experiment's heatmaps when they exist. Nothing is invented for a missing part;
the card says it is missing and which command makes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from engine.final._store import FinalModel

if TYPE_CHECKING:
    from engine.store import Project

INTENDED_USE = (
    "Research use: flag radiographs of the femur that likely show an atypical femoral fracture (AFF) "
    "so that a reader looks at them first (triage of an archive, label review). It is not a diagnosis "
    "and not a medical device; every flagged image needs a reader's decision, and an unflagged one is "
    "not cleared.")


def _metric(auc: float | None, lo: float | None, hi: float | None) -> str:
    if auc is None:
        return "-"
    return f"{auc:.3f} (95% CI {lo:.3f}-{hi:.3f})" if lo is not None else f"{auc:.3f}"


def _internal(project: Project, final: FinalModel) -> dict:
    from engine.evaluate import experiment_results

    r = experiment_results(project, final.experiment, final.provenance.get("patient_rule", "mean"))
    out = {}
    for level in ("patient", "image"):
        lr = r.level(level)
        out[level] = {"n": lr.n_cases, "n_aff": lr.n_pos, "auc": lr.auc.auc, "auc_ci_low": lr.auc.ci_low,
                      "auc_ci_high": lr.auc.ci_high, "brier": lr.brier}
    return out


def _evaluations(project: Project, final: FinalModel) -> list[dict]:
    from engine.final._evaluate import list_evaluations

    newest = {}
    for ev in list_evaluations(project):
        for e in ev["experiments"]:
            if e["experiment"] == final.experiment:
                newest[(ev["kind"], ev["source"])] = {
                    "kind": ev["kind"], "target": ev["target"], "created_at": ev["created_at"],
                    "final_model_id": e["final_model_id"], "data": ev["data"],
                    **{level: {k: e[level][k] for k in ("n", "n_aff", "auc", "auc_ci_low", "auc_ci_high",
                                                         "brier", "recalibration", "operating_points")}
                       for level in ("patient", "image")}}
    return sorted(newest.values(), key=lambda d: (d["kind"] != "test", d["target"]))


def _explainability(project: Project, final: FinalModel) -> list[dict]:
    from engine.explain import methods, roi_summary

    found = []
    for method in methods():
        try:
            s = roi_summary(project, final.experiment, method, n_boot=500)
        except (FileNotFoundError, KeyError, ValueError):
            continue
        found.append(s)
    return found


def _limits(card: dict) -> list[str]:
    prov = card["provenance"]
    limits = [
        "Trained and cross-validated on one project "
        f"({card['training_data']['cv_images']} images of {card['training_data']['cv_patients']} patients); "
        "performance on other scanners, sites and populations can differ.",
        "Decision thresholds were fixed on the out-of-fold cross-validation predictions of the fold models; "
        "the ensemble's own scores may sit slightly differently, so check sensitivity at a new site.",
        f"Input is the letterboxed image at {prov['image_size']} px; orientation and laterality are used as "
        "stored (not normalised).",
    ]
    kinds = {e["kind"] for e in card["evaluations"]}
    if "test" not in kinds:
        limits.append("No held-out test evaluation is stored (affengine evaluate PROJECT -e NAME --on test).")
    if "external" not in kinds:
        limits.append("No external validation is stored: the figures are from one site only "
                      "(affengine evaluate PROJECT -e NAME --on OTHER.affproj).")
    for e in card["evaluations"]:
        rc = e["patient"]["recalibration"]
        if rc.get("slope") is not None and rc.get("slope_ci_high") is not None and rc["slope_ci_high"] < 1:
            limits.append(f"On the {e['target']} the calibration slope is {rc['slope']:.2f} (below 1: the "
                          "probabilities are too extreme there); recalibrate before reading them as risks.")
    if not card["explainability"]:
        limits.append("No heatmaps were computed (affengine explain PROJECT --experiment NAME); where the "
                      "model looks is unknown.")
    return limits


def build_card(project: Project, final: FinalModel) -> dict:
    """The card's content as a JSON-ready dict."""
    from engine.splits import load_split

    prov = final.provenance
    s = prov["split"]
    split = load_split(project, s["name"], s["version"])
    cv = split.plan.folds >= 0
    card = {
        "model": f"{final.experiment} (final model {final.id}, {final.mode})", "created_at": final.created_at,
        "architecture": prov["model"], "family": prov["family"], "members": len(prov["members"]),
        "intended_use": INTENDED_USE,
        "training_data": {"project": str(project.path), "split": f"{s['name']} v{s['version']}", "k": s["k"],
                          "cv_images": int(cv.sum()), "cv_aff_images": int(split.plan.labels[cv].sum()),
                          "cv_patients": int(len(set(split.plan.patients[cv].tolist()))),
                          "held_out_test_images": int((~cv).sum())},
        "internal": _internal(project, final),
        "evaluations": _evaluations(project, final),
        "explainability": _explainability(project, final),
        "thresholds": prov["thresholds"], "provenance": prov,
    }
    card["known_limits"] = _limits(card)
    return card


def card_markdown(card: dict) -> str:
    t, i = card["training_data"], card["internal"]
    lines = [f"# Model card: {card['model']}", "", "## Intended use", "", card["intended_use"], "",
             "## Model", "",
             f"- {card['architecture']} ({card['family']}), ensemble of {card['members']} fold model(s) "
             f"averaging P(AFF); input {card['provenance']['image_size']} px, 1 channel",
             f"- engine {card['provenance']['code_version']['engine']}, git commit "
             f"{card['provenance']['code_version']['git_commit'] or 'unknown'}", "",
             "## Training data", "",
             f"- {t['cv_images']} images ({t['cv_aff_images']} AFF) of {t['cv_patients']} patients in "
             f"{t['k']} cross-validation folds of split {t['split']}; {t['held_out_test_images']} held-out "
             "test images never used for training, epoch choice or thresholds", "",
             "## Results", "", "| evaluation | level | n | AFF | AUC (95% CI) | Brier | calibration slope |",
             "|---|---|---|---|---|---|---|"]
    for level in ("patient", "image"):
        r = i[level]
        lines.append(f"| internal (cross-validation) | {level} | {r['n']} | {r['n_aff']} | "
                     f"{_metric(r['auc'], r['auc_ci_low'], r['auc_ci_high'])} | {r['brier']:.3f} | - |")
    for e in card["evaluations"]:
        for level in ("patient", "image"):
            r = e[level]
            slope = r["recalibration"].get("slope")
            lines.append(f"| {e['target']} | {level} | {r['n']} | {r['n_aff']} | "
                         f"{_metric(r['auc'], r['auc_ci_low'], r['auc_ci_high'])} | {r['brier']:.3f} | "
                         f"{'-' if slope is None else f'{slope:.2f}'} |")
    th = card["thresholds"]["patient"]
    lines += ["", "Operating thresholds (patient level, fixed on cross-validation): "
              f"Youden {th['youden']:.4f}, sensitivity >= 0.90 at {th['sensitivity']:.4f}, "
              f"specificity >= 0.90 at {th['specificity']:.4f}.", "", "## Explainability", ""]
    if not card["explainability"]:
        lines.append("No heatmaps are stored for this experiment.")
    for s in card["explainability"]:
        g = s["groups"].get("AFF") or s["groups"].get("all")
        e, c = g["energy"], g["chance"]
        energy = "-" if not e["n"] else f"{e['mean']:.3f} ({e['low']:.3f}-{e['high']:.3f})"
        lines.append(f"- {s['method']}: {s['with_roi']} of {s['images']} images with an ROI; ROI energy on "
                     f"AFF images {energy} against a chance level of {c['mean']:.3f}" if c["n"] else
                     f"- {s['method']}: {s['images']} maps, no ROI to measure them against")
    lines += ["", "## Known limits", ""] + [f"- {x}" for x in card["known_limits"]]
    lines += ["", "Provenance (weights, hashes, recipe, split) is in the JSON card.", ""]
    return "\n".join(lines)


def write_card(project: Project, final: FinalModel, out: str | Path) -> tuple[Path, Path]:
    """``<out stem>_card.md`` and ``<out stem>_card.json`` beside ``out``."""
    out = Path(out)
    card = build_card(project, final)
    md = out.with_name(out.stem + "_card.md")
    js = out.with_name(out.stem + "_card.json")
    md.write_text(card_markdown(card), encoding="utf-8")
    from engine.evaluate import to_jsonable

    js.write_text(json.dumps(to_jsonable(card), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return md, js
