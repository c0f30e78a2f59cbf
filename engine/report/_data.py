"""Every number of a study report, computed once: data summary, results, comparisons, cost, pre-training."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.evaluate import (
    ComparisonTable,
    ComputeCost,
    DiffInDiff,
    ExperimentResults,
    ExperimentRuns,
    NearPerfectAucWarning,
    Predictions,
    align_predictions,
    bootstrap_auc_difference,
    compare_experiments,
    mcnemar_at_thresholds,
    pretraining_effect,
    to_jsonable,
    youden_threshold,
)

if TYPE_CHECKING:
    from engine.store import Project

# Spec fields that may differ within a pretrained/scratch pair: how and where it ran, not what.
_PAIR_IGNORED = {"pretrained", "weights_file", "project", "fold", "device", "num_threads", "progress_every",
                 "compile", "precision", "channels_last"}


@dataclass(frozen=True)
class DataSummary:
    """The images behind the report: project totals and the split's cross-validation folds."""

    project: str
    images_total: int
    labels: dict[str, int]
    split: str
    k: int
    test_images: int
    cv_images: int
    cv_patients: int
    cv_aff_images: int
    cv_aff_patients: int
    images_per_patient: float
    folds: list[dict]


@dataclass(frozen=True)
class ComparisonRow:
    """AUC difference ``first - second`` with DeLong and patient-bootstrap inference (Holm over the table)."""

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
    mcnemar_b: int | None = None
    mcnemar_c: int | None = None
    p_mcnemar: float | None = None
    p_boot_mid: float | None = None  # bootstrap mid-p: replicate differences of exactly 0 count half
    boot_zero_share: float | None = None  # share of bootstrap replicate differences exactly 0
    boot_near_one: bool = False  # an AUC within 0.005 of 1: the bootstrap p is not reliable
    clustered_ci_low: float | None = None  # image level only: Obuchowski's clustered paired test
    clustered_ci_high: float | None = None
    p_clustered: float | None = None
    p_clustered_holm: float | None = None

    def significant(self, alpha: float = 0.05) -> bool:
        """Holm-adjusted p of the primary test (DeLong where it applies, else the bootstrap) < alpha."""
        p = self.p_delong_holm if self.p_delong_holm is not None else self.p_boot_holm
        return p is not None and p < alpha


@dataclass(frozen=True)
class PretrainingPair:
    """One architecture trained from ImageNet weights and from scratch, otherwise identically."""

    model: str
    family: str
    pretrained: str
    scratch: str
    auc_pretrained: float
    auc_scratch: float
    gain: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class DiffInDiffRow:
    """``gain_cnn - gain_vit`` for one CNN pair and one ViT pair (negative: the ViT gains more)."""

    cnn_model: str
    vit_model: str
    gain_cnn: float
    gain_vit: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class ReportData:
    """The whole report as numbers; ``to_json()`` gives what the GUI reads."""

    created_at: str
    level: str
    patient_rule: str
    reference: str | None
    conf_level: float
    n_boot: int
    seed: int
    data: DataSummary
    experiments: list[ExperimentResults]
    compute: list[ComputeCost]
    comparisons: list[ComparisonRow]
    pretraining: list[PretrainingPair]
    diff_in_diff: list[DiffInDiffRow]
    answers: dict[str, str] = field(default_factory=dict)
    explain: dict | None = None  # explainability section (engine.report._explain_section); None: no maps
    explain_figures: dict[str, str] = field(default_factory=dict, repr=False)  # gallery PNGs, HTML only
    evaluations: list = field(default_factory=list)  # held-out test, external (report._beyond_section)
    margin: float | None = None  # non-inferiority / equivalence margin (AUC difference); None: not tested
    statistics: dict | None = None  # further statistics (engine.report._stats_section)
    repeats: dict | None = None  # repeated-CV section (engine.report._repeats_section); None: not built
    methods: dict | None = None  # Methods text + CLAIM rows (engine.report._methods_section)
    readers: dict | None = None  # reader study (engine.report._readers_section); None: no reads

    def to_json(self) -> dict:
        out = to_jsonable(dataclasses.replace(self, explain_figures={}))
        out.pop("explain_figures", None)
        if self.explain is None:
            out.pop("explain", None)
        if self.repeats is None:
            out.pop("repeats", None)
        if self.methods is None:
            out.pop("methods", None)
        if self.readers is None:
            out.pop("readers", None)
        return out


def data_summary(project: Project, runs: ExperimentRuns) -> DataSummary:
    """Project label counts and the per-fold composition of the experiments' split."""
    from engine.splits import load_split
    from engine.store import LABELS

    split = load_split(project, runs.split_name, runs.split_version)
    images_total = int(project.query("SELECT COUNT(*) FROM images")[0][0])
    labels = {name: 0 for name in LABELS}
    for label in project.labels.all().values():
        labels[label] = labels.get(label, 0) + 1
    labels["unlabelled"] = images_total - sum(labels.values())
    plan = split.plan
    cv = plan.folds >= 0
    pats, pat_idx = np.unique(plan.patients[cv], return_inverse=True)
    pat_aff = np.zeros(len(pats), dtype=np.int64)
    np.maximum.at(pat_aff, pat_idx.ravel(), plan.labels[cv])
    folds = []
    for f in range(split.k):
        sel = plan.folds == f
        fp = np.unique(plan.patients[sel])
        folds.append({"fold": f, "images": int(sel.sum()), "aff_images": int(plan.labels[sel].sum()),
                      "patients": len(fp)})
    return DataSummary(project=str(project.path), images_total=images_total, labels=labels,
                       split=runs.split_label, k=split.k, test_images=int((~cv).sum()),
                       cv_images=int(cv.sum()), cv_patients=len(pats),
                       cv_aff_images=int(plan.labels[cv].sum()), cv_aff_patients=int(pat_aff.sum()),
                       images_per_patient=float(cv.sum() / max(len(pats), 1)), folds=folds)


def _opt(x) -> float | None:
    """``x`` as a float; ``None`` for a missing or non-finite value (a table shows a dash)."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


def comparison_rows(preds: Sequence[Predictions], reference: str | None, level: str, how: str,
                    n_boot: int, seed: int, conf_level: float) -> list[ComparisonRow]:
    """Both tests for every pair (or each against ``reference``), Holm-adjusted within each method.

    DeLong needs independent cases: at image level with patients of several images it is left
    out (``None``); the patient bootstrap and Obuchowski's clustered test are given instead.
    """
    if len(preds) < 2:
        return []
    boot = compare_experiments(preds, reference, level=level, how=how, method="bootstrap", n_boot=n_boot,
                               seed=seed, conf_level=conf_level)
    delong: ComparisonTable | None = None
    try:
        delong = compare_experiments(preds, reference, level=level, how=how, method="delong",
                                     conf_level=conf_level)
    except ValueError:
        if level == "patient":
            raise
    clustered: ComparisonTable | None = None
    if level == "image":
        clustered = compare_experiments(preds, reference, level=level, how=how, method="obuchowski",
                                        conf_level=conf_level)
    mcnemar = _mcnemar(preds, boot, level, how)
    rows = []
    for i in range(len(boot.first)):
        b, c, p_mc = mcnemar[i]
        rows.append(ComparisonRow(
            first=boot.first[i], second=boot.second[i], auc_first=float(boot.auc_first[i]),
            auc_second=float(boot.auc_second[i]), difference=float(boot.difference[i]),
            delong_ci_low=_opt(delong.ci_low[i]) if delong else None,
            delong_ci_high=_opt(delong.ci_high[i]) if delong else None,
            p_delong=_opt(delong.p_value[i]) if delong else None,
            p_delong_holm=_opt(delong.p_holm[i]) if delong else None,
            boot_ci_low=float(boot.ci_low[i]), boot_ci_high=float(boot.ci_high[i]),
            p_boot=float(boot.p_value[i]), p_boot_holm=float(boot.p_holm[i]),
            mcnemar_b=b, mcnemar_c=c, p_mcnemar=p_mc, p_boot_mid=_opt(boot.p_mid[i]),
            boot_zero_share=_opt(boot.zero_share[i]),
            boot_near_one=bool(boot.near_one[i]),
            clustered_ci_low=_opt(clustered.ci_low[i]) if clustered else None,
            clustered_ci_high=_opt(clustered.ci_high[i]) if clustered else None,
            p_clustered=_opt(clustered.p_value[i]) if clustered else None,
            p_clustered_holm=_opt(clustered.p_holm[i]) if clustered else None))
    return rows


def _mcnemar(preds: Sequence[Predictions], table: ComparisonTable, level: str, how: str) -> list[tuple]:
    """McNemar at each model's Youden threshold, patients only (it needs independent cases)."""
    if level != "patient":
        return [(None, None, None)] * len(table.first)
    aligned = {e.name: e.to_patients(how) for e in align_predictions(*preds)}
    youden = {n: youden_threshold(e.labels, e.scores) for n, e in aligned.items()}
    out = []
    for a, b in zip(table.first, table.second):
        ea, eb = aligned[a], aligned[b]
        t = mcnemar_at_thresholds(ea.labels, ea.scores, eb.scores, youden[a], youden[b])
        out.append((t.b, t.c, t.p_value))
    return out


def _pair_key(spec: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in spec.items() if k not in _PAIR_IGNORED))


def pretraining_pairs(specs: dict[str, dict]) -> list[tuple[str, str]]:
    """``(pretrained, scratch)`` experiment names whose specs differ only in ``pretrained``.

    Execution settings (device, threads, precision...) may differ; anything that changes what is
    trained may not. When several experiments match, the first of each kind (in the given order) is used.
    """
    pairs, used = [], set()
    names = list(specs)
    for a in names:
        if a in used or not specs[a].get("pretrained"):
            continue
        for b in names:
            if b in used or b == a or specs[b].get("pretrained"):
                continue
            if _pair_key(specs[a]) == _pair_key(specs[b]):
                pairs.append((a, b))
                used.update((a, b))
                break
    return pairs


def _pretraining(preds: dict[str, Predictions], runs: dict[str, ExperimentRuns], specs: dict[str, dict],
                 level: str, how: str, n_boot: int, seed: int, conf_level: float):
    with warnings.catch_warnings():  # near-1 AUCs: flagged in the comparison rows and the notes
        warnings.simplefilter("ignore", NearPerfectAucWarning)
        return _pretraining_rows(preds, runs, specs, level, how, n_boot, seed, conf_level)


def _pretraining_rows(preds, runs, specs, level, how, n_boot, seed, conf_level):
    pairs = pretraining_pairs(specs)
    rows = []
    for pre, scr in pairs:
        a, b = align_predictions(preds[pre], preds[scr])
        if level == "patient":
            a, b = a.to_patients(how), b.to_patients(how)
        c = bootstrap_auc_difference(a.labels, a.scores, b.scores, patients=a.patients, n_boot=n_boot,
                                     seed=seed, conf_level=conf_level)
        rows.append(PretrainingPair(model=runs[pre].model, family=runs[pre].family, pretrained=pre,
                                    scratch=scr, auc_pretrained=float(c.aucs[0]),
                                    auc_scratch=float(c.aucs[1]), gain=c.estimate, ci_low=c.ci_low,
                                    ci_high=c.ci_high, p_value=c.p_value))
    did = []
    cnn = [r for r in rows if r.family == "cnn"]
    vit = [r for r in rows if r.family == "vit"]
    for c in cnn:
        for v in vit:
            res: DiffInDiff = pretraining_effect(preds[c.pretrained], preds[c.scratch], preds[v.pretrained],
                                                 preds[v.scratch], level=level, how=how, n_boot=n_boot,
                                                 seed=seed, conf_level=conf_level)
            d = res.difference
            did.append(DiffInDiffRow(cnn_model=c.model, vit_model=v.model, gain_cnn=res.gain_cnn.estimate,
                                     gain_vit=res.gain_vit.estimate, difference=d.estimate, ci_low=d.ci_low,
                                     ci_high=d.ci_high, p_value=d.p_value))
    return rows, did
