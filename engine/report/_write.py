"""Write a report folder: report.html (self-contained), report.json and one CSV per table."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.report._beyond_section import evaluation_html, evaluation_name, evaluation_tables
from engine.report._build import build_report_data
from engine.report._data import ReportData
from engine.report._explain_section import EXPLAIN_TABLES
from engine.report._html import _CSS, html_table, render_html
from engine.report._plots import calibration_figure, pr_figure, roc_figure
from engine.report._readers_section import READER_TABLES, readers_roc_figure
from engine.report._repeats_section import REPEAT_TABLES
from engine.report._stats_section import decision_curve_figure, stats_tables
from engine.report._tables import TABLES, write_csv

if TYPE_CHECKING:
    from engine.store import Project


@dataclass(frozen=True)
class WrittenReport:
    folder: Path
    html: Path
    json: Path
    tables: dict[str, Path]
    data: ReportData


def _new_folder(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        folder = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a report folder under {root}")


def write_report(data: ReportData, out_dir: str | Path) -> WrittenReport:
    """Write ``data`` into a new timestamped folder under ``out_dir``."""
    folder = _new_folder(Path(out_dir))
    tables = {}
    for key, make in TABLES.items():
        tables[key] = write_csv(folder / f"{key}.csv", make(data))
    for key, table in stats_tables(data.statistics).items():
        tables[key] = write_csv(folder / f"{key}.csv", table)
    if data.explain is not None:
        for key, make in EXPLAIN_TABLES.items():
            tables[key] = write_csv(folder / f"{key}.csv", make(data.explain))
    for ev in data.evaluations:
        for key, table in evaluation_tables(ev).items():
            tables[key] = write_csv(folder / f"{key}.csv", table)
    if data.repeats:
        for key, make in REPEAT_TABLES.items():
            tables[key] = write_csv(folder / f"{key}.csv", make(data.repeats))
    if data.readers:
        for key, make in READER_TABLES.items():
            tables[key] = write_csv(folder / f"{key}.csv", make(data.readers))
    results = data.experiments
    figures = {
        "ROC": roc_figure(results, data.level),
        "Precision-recall": pr_figure(results, data.level),
        "Calibration": calibration_figure(results, data.level),
    }
    if data.statistics is not None:
        figures["Decision curves"] = decision_curve_figure(data.statistics)
    readers_png = readers_roc_figure(data.readers) if data.readers else None
    if readers_png:
        figures["Readers on the ROC curve"] = readers_png
    html_path = folder / "report.html"
    html_path.write_text(render_html(data, figures), encoding="utf-8")
    json_path = folder / "report.json"
    json_path.write_text(json.dumps(data.to_json(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return WrittenReport(folder=folder, html=html_path, json=json_path, tables=tables, data=data)


def build_report(project: Project, experiments: Sequence[str], reference: str | None = None,
                 level: str = "patient", out_dir: str | Path | None = None, how: str = "mean",
                 n_boot: int = 2000, seed: int = 0, conf_level: float = 0.95,
                 margin: float | None = None) -> WrittenReport:
    """Compute and write the study report (default folder: ``project/reports/<timestamp>/``)."""
    data = build_report_data(project, experiments, reference, level, how, n_boot, seed, conf_level, margin)
    return write_report(data, project.reports_dir if out_dir is None else out_dir)


def write_evaluation_report(ev: dict, folder: str | Path) -> Path:
    """The evaluation's CSV tables and a self-contained ``evaluation.html`` in ``folder``."""
    folder = Path(folder)
    for key, table in evaluation_tables(ev).items():
        write_csv(folder / f"{key}.csv", table)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(evaluation_name(ev))}"
            f"</title><style>{_CSS}</style></head><body>{evaluation_html(ev, html_table)}"
            f"<p class='note'>Created {html.escape(ev['created_at'])}; development project "
            f"{html.escape(ev['development_project'])}. Methods: docs/evaluation.md.</p></body></html>")
    out = folder / "evaluation.html"
    out.write_text(page, encoding="utf-8")
    return out
