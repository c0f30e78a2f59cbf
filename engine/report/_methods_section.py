"""The report's Methods section (text to adapt for a paper) and the CLAIM items a run covers.

Built from the project and the experiments' specs and run folders: data counts, the split
design (R x K, seeds), orientation handling, recipes and tuning budget, pre-training sources
with weight file hashes, and the statistics used.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store import Project


def _orientation(project: Project, names: Sequence[str]) -> dict:
    from engine.experiments import experiment_jobs

    modes, unknown, mirrored, images, marker = set(), 0, 0, 0, 0
    for n in names:
        for job in experiment_jobs(project, n):
            try:
                o = json.loads((project.runs_dir / job.run_id / "config.json").read_text())["orientation"]
            except (OSError, ValueError, KeyError):
                continue
            modes.add(o.get("mode"))
            unknown, mirrored, images = (unknown + o.get("unknown", 0), mirrored + o.get("mirrored", 0),
                                         images + o.get("images", 0))
            marker += o.get("from_marker", 0)
    return {"modes": sorted(m for m in modes if m), "unknown": unknown, "mirrored": mirrored,
            "images": images, "marker": marker}


def methods_section(project: Project, names: Sequence[str], level: str = "patient") -> dict:
    """Sentences (``text``) and the CLAIM checklist rows (``claim``) for the named experiments."""
    from engine.experiments import experiment_design, get_experiment
    from engine.models import file_sha256, find_weights
    from engine.splits import load_split
    from engine.tune import budget_sentence

    exps = {n: get_experiment(project, n) for n in names}
    first = exps[names[0]]
    split = load_split(project, first.spec["split"], first.spec.get("split_version"))
    design = {n: experiment_design(project, n) for n in names}
    cv = split.plan.folds >= 0
    pats = len(set(split.plan.patients[cv].tolist()))
    aff_pats = len(set(split.plan.patients[cv & (split.plan.labels == 1)].tolist()))
    text = [f"Data: {int(cv.sum())} radiographs of {pats} patients were used in cross-validation "
            f"({int(split.plan.labels[cv].sum())} AFF images of {aff_pats} patients; "
            f"{int((~cv).sum())} held-out test images not used)."]
    reps = sorted({len(d.repeats) for d in design.values()})
    seeds = sorted({len(d.seeds) for d in design.values()})
    text.append(f"Partition: patient-level, label-stratified {split.k}-fold cross-validation repeated "
                f"{'/'.join(map(str, reps))} time(s) (split {split.name} v{split.version}, "
                f"seed {split.seed}, repeat r with seed {split.seed} + r), with "
                f"{'/'.join(map(str, seeds))} training seed(s) per fold; no patient contributes images "
                "to both sides of any fold.")
    o = _orientation(project, names)
    if "canonical" in o["modes"]:
        text.append("Orientation: images were mirrored so the lateral cortex lies on the image left, "
                    "from the DICOM/manifest laterality, else from the lead L/R marker read from the "
                    f"image ({o['mirrored']} of {o['images']} training-run image uses mirrored; "
                    f"{o['marker']} sided by the marker; {o['unknown']} with orientation unknown, "
                    "left as stored); "
                    "random horizontal flips were not used.")
    else:
        text.append("Orientation: images were used as stored, with random horizontal flips.")
    recipes = sorted({e.spec.get("recipe") or "custom" for e in exps.values()})
    trials = sorted({(int(e.spec.get("tune_trials", 0)), int(e.spec.get("tune_inner_folds", 2)))
                     for e in exps.values()})
    text.append("Training: AdamW with cosine schedule; recipes " + ", ".join(recipes)
                + " (docs/training.md gives each value's source). "
                + ("Tuning: " + "; ".join(budget_sentence(t, k) for t, k in trials if t)
                   + " (Optuna TPE, median pruner, on inner patient-grouped folds of each outer "
                   "training fold; lr, weight decay and augmentation strength relative to the recipe)."
                   if any(t for t, _ in trials) else "No hyper-parameter tuning."))
    sources = []
    for e in exps.values():
        if e.spec.get("pretrained"):
            try:
                src = find_weights(e.spec["model"], e.spec.get("weights_file"))
            except FileNotFoundError:
                src = None
            digest = file_sha256(src.path) if src is not None and src.available else "not on this machine"
            sources.append(f"{e.spec['model']} ImageNet weights ({src.hf_hub_id if src else '?'}, "
                           f"sha256 {digest})")
    text.append("Initialisation: "
                + ("; ".join(sources) if sources else "all models from random initialisation") + ".")
    text.append(f"Statistics: AUC at {level} level (patient score = mean of its image probabilities) with "
                "DeLong CIs and patient-cluster bootstrap; pairwise Holm-adjusted tests; across repeats the "
                "corrected resampled t-test (Nadeau & Bengio 2003) over the R x K folds and paired DeLong "
                "tests per repeat.")
    claim = [
        ["data sources and counts (patients, images per label)", "yes"],
        ["partition (patient-level, R x K, seeds)", "yes"],
        ["pre-processing (orientation, size)", "yes"],
        ["model and initialisation (weights source and hash)", "yes"],
        ["training recipe and tuning budget", "yes"],
        ["performance metrics with CIs at the stated unit", "yes"],
        ["statistical tests and multiplicity handling", "yes"],
        ["inclusion and exclusion rules", "partly: labels uncertain/excluded are left out of the split"],
        ["label source and reader agreement", "no: not recorded by the workbench"],
        ["explainability method and its validation", "see the explainability section"],
        ["failure analysis (label-review queue)", "affengine review"],
        ["compute", "yes (compute table)"],
    ]
    return {"text": text, "claim": claim}


def claim_table(section: dict):
    return ["CLAIM / TRIPOD+AI item", "covered by this report"], section["claim"]


def methods_html(section: dict | None, table_html) -> str:
    if not section:
        return ""
    parts = ["<h2>Methods</h2>", "<p class='note'>Text to adapt for a paper's methods section.</p>"]
    parts += [f"<p>{html.escape(t)}</p>" for t in section["text"]]
    parts += ["<h3>CLAIM checklist items this report covers</h3>", table_html(claim_table(section))]
    return "\n".join(parts)
