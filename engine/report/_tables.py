"""The report's tables as header + rows, written to CSV (full precision) and shown in the HTML."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from engine.report._data import ReportData
from engine.store import csv_cell

Table = tuple[list[str], list[list]]


def _dc_table(items, cls) -> Table:
    header = [f.name for f in dataclasses.fields(cls)]
    return header, [[getattr(it, h) for h in header] for it in items]


def data_table(data: ReportData) -> Table:
    d = data.data
    rows = [["project", d.project], ["images in project", d.images_total]]
    rows += [[f"images labelled {k}", v] for k, v in d.labels.items()]
    rows += [["split", d.split], ["folds (k)", d.k],
             ["held-out test images (not in cross-validation)", d.test_images],
             ["cross-validation images", d.cv_images], ["cross-validation patients", d.cv_patients],
             ["AFF images", d.cv_aff_images], ["AFF patients", d.cv_aff_patients],
             ["images per patient", d.images_per_patient], ["report level", data.level],
             ["patient score", data.patient_rule], ["bootstrap resamples", data.n_boot],
             ["bootstrap seed", data.seed], ["confidence level", data.conf_level]]
    return ["item", "value"], rows


def folds_table(data: ReportData) -> Table:
    header = ["fold", "images", "aff_images", "patients"]
    return header, [[f[h] for h in header] for f in data.data.folds]


def experiments_table(data: ReportData) -> Table:
    header = ["experiment", "model", "family", "pretrained", "level", "n_cases", "n_aff", "n_nff", "auc",
              "auc_ci_low", "auc_ci_high", "auc_se", "average_precision", "prevalence", "brier",
              "fold_auc_mean", "fold_auc_sd", "youden_threshold", "youden_sensitivity", "youden_specificity",
              "youden_balanced_accuracy", "youden_f1", "sens90_threshold", "sens90_sensitivity",
              "sens90_specificity", "spec90_threshold", "spec90_sensitivity", "spec90_specificity"]
    rows = []
    for e in data.experiments:
        for lv in (e.patient, e.image):
            op = lv.operating_points
            y, s9, p9 = op["youden"], op["sensitivity"], op["specificity"]
            fa = lv.fold_aucs
            rows.append([e.name, e.model, e.family, e.pretrained, lv.level, lv.n_cases, lv.n_pos, lv.n_neg,
                         lv.auc.auc, lv.auc.ci_low, lv.auc.ci_high, lv.auc.se, lv.pr.average_precision,
                         lv.pr.prevalence, lv.brier, fa.mean if fa else None, fa.sd if fa else None,
                         y.threshold, y.sensitivity, y.specificity, y.balanced_accuracy, y.f1,
                         s9.threshold, s9.sensitivity, s9.specificity, p9.threshold, p9.sensitivity,
                         p9.specificity])
    return header, rows


def comparisons_table(data: ReportData) -> Table:
    from engine.report._data import ComparisonRow

    return _dc_table(data.comparisons, ComparisonRow)


def compute_table(data: ReportData) -> Table:
    from engine.evaluate import ComputeCost

    return _dc_table(data.compute, ComputeCost)


def pretraining_table(data: ReportData) -> Table:
    from engine.report._data import PretrainingPair

    return _dc_table(data.pretraining, PretrainingPair)


def diff_in_diff_table(data: ReportData) -> Table:
    from engine.report._data import DiffInDiffRow

    return _dc_table(data.diff_in_diff, DiffInDiffRow)


TABLES = {
    "data_summary": data_table,
    "folds": folds_table,
    "experiments": experiments_table,
    "comparisons": comparisons_table,
    "compute": compute_table,
    "pretraining": pretraining_table,
    "diff_in_diff": diff_in_diff_table,
}


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return csv_cell(v)  # no spreadsheet formulas from patient IDs (OWASP)
    return str(v)


def write_csv(path: Path, table: Table) -> Path:
    header, rows = table
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow([_cell(v) for v in row])
    return path
