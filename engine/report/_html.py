"""The self-contained HTML report: tables, embedded PNG figures, and the answers."""

from __future__ import annotations

import html

from engine.evaluate import format_p, is_p_column
from engine.report._answers import QUESTIONS
from engine.report._beyond_section import INTERNAL, evaluations_html
from engine.report._data import ReportData
from engine.report._explain_section import HINT, QUESTION, explain_html
from engine.report._methods_section import methods_html
from engine.report._readers_section import readers_html
from engine.report._repeats_section import repeats_html
from engine.report._stats_section import stats_html
from engine.report._tables import TABLES, Table

_CSS = """
body { font-family: system-ui, sans-serif; max-width: min(1600px, 94vw); margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
.answer { background: #f7f9fc; border-left: 4px solid #4a78b5; padding: 0.6em 1em; margin: 0.6em 0; }
.figs img { max-width: 32%; margin-right: 1%; } .note { color: #555; font-size: 0.9em; }
.wide { overflow-x: auto; max-width: 100%;
  /* a shadow on the edge that has more columns behind it (it scrolls away at the end) */
  background: linear-gradient(to right, #fff 30%, rgba(255,255,255,0)) left / 40px 100% no-repeat local,
              linear-gradient(to left, #fff 30%, rgba(255,255,255,0)) right / 40px 100% no-repeat local,
              radial-gradient(farthest-side at 0 50%, rgba(0,0,0,.18), rgba(0,0,0,0))
                left / 12px 100% no-repeat scroll,
              radial-gradient(farthest-side at 100% 50%, rgba(0,0,0,.18), rgba(0,0,0,0))
                right / 12px 100% no-repeat scroll; }
.wide table { width: auto; } th { vertical-align: bottom; } td { white-space: nowrap; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.gallery img { display: block; width: 100%; height: auto; margin: 0; }
"""

_NOTES = {
    "experiments": "Patient rows first (one score per patient: the {rule} of its image probabilities; a "
                   "patient is AFF when any image is). Patient-level CIs are DeLong's; image-level CIs are "
                   "Obuchowski's clustered ones (patients as clusters). The operating points in this table "
                   "are descriptive: their thresholds are chosen on the same out-of-fold predictions and "
                   "are optimistic; held-out thresholds (from training data) are in 'Operating points'.",
    "comparisons": "Difference = AUC(first) - AUC(second) at {level} level. DeLong: paired DeLong test "
                   "(empty at image level, where cases are not independent); boot: stratified patient "
                   "bootstrap ({n_boot} resamples, seed {seed}); p_boot_mid counts replicate differences of "
                   "exactly 0 half on each side, boot_zero_share is their share, boot_near_one flags an AUC "
                   "within 0.005 of 1 (bootstrap p unreliable). clustered (image level): Obuchowski's "
                   "clustered variance. Holm: adjusted over all rows of the table, separately per method. "
                   "McNemar (patient level only): descriptive, each model at its own in-sample Youden "
                   "threshold; b = first right and second wrong, c = the reverse; not Holm-adjusted. "
                   "McNemar at held-out thresholds is in 'Operating points'.",
    "compute": "Per-fold means except wall_seconds_total (sum over folds) and peak_memory_bytes (largest "
               "fold). peak_memory_kind says whether GPU memory or CPU RSS was measured.",
    "pretraining": "Gain = AUC(pretrained) - AUC(scratch), patient bootstrap on the same resamples.",
    "diff_in_diff": "gain_cnn - gain_vit; negative means the ViT gains more from pre-training.",
}

_TITLES = {
    "data_summary": "Data and split", "folds": "Folds", "experiments": "Results per experiment",
    "comparisons": "Comparisons", "compute": "Compute cost", "pretraining": "Pre-training effect",
    "diff_in_diff": "Does pre-training help ViTs more than CNNs?",
}


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if abs(v) >= 1e5 or (v != 0 and abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, int) and abs(v) >= 10_000:
        return f"{v:,}"
    return str(v)


def html_table(table: Table) -> str:
    header, rows = table
    # Column names break after their underscores (auc_ci_low -> auc_ci_ / low), so a 20-column
    # table is as wide as its numbers, not its names; what is still wider scrolls sideways.
    head = "".join(f"<th>{html.escape(h).replace('_', '_<wbr>')}</th>" for h in header)
    pcols = [is_p_column(h) for h in header]
    body = "".join("<tr>" + "".join(
        f"<td>{html.escape(format_p(v, label=False) if p and isinstance(v, float) else _fmt(v))}</td>"
        for p, v in zip(pcols, row)) + "</tr>" for row in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def render_html(data: ReportData, figures: dict[str, str]) -> str:
    """The report page; ``figures`` maps a caption to a base64 PNG."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>AFF study report</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>AFF vs NFF: CNN and vision transformer comparison</h1>",
             f"<p class='note'>Created {html.escape(data.created_at)}; split {html.escape(data.data.split)}; "
             f"inference at {data.level} level; out-of-fold predictions of {len(data.experiments)} "
             "experiment(s).</p>", "<h2>Answers</h2>"]
    for key, question in QUESTIONS.items():
        parts.append(f"<div class='answer'><b>{html.escape(question)}</b><br>"
                     f"{html.escape(data.answers.get(key, ''))}</div>")
    areas = data.explain["answer"] if data.explain is not None else HINT
    parts.append(f"<div class='answer'><b>{html.escape(QUESTION)}</b><br>{html.escape(areas)}</div>")
    parts.append("<h2>Curves</h2><div class='figs'>")
    for caption, png in figures.items():
        parts.append(f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>")
    parts.append("</div>")
    fmt = {"rule": data.patient_rule, "level": data.level, "n_boot": data.n_boot, "seed": data.seed}
    for key, make in TABLES.items():
        table = make(data)
        if key in ("pretraining", "diff_in_diff") and not table[1]:
            continue
        internal = f" ({INTERNAL})" if data.evaluations and key in ("experiments", "comparisons") else ""
        parts.append(f"<h2>{html.escape(_TITLES[key] + internal)}</h2>")
        if key in _NOTES:
            parts.append(f"<p class='note'>{html.escape(_NOTES[key].format(**fmt))}</p>")
        parts.append(html_table(table))
    parts.append(methods_html(data.methods, html_table))
    parts.append(repeats_html(data.repeats, html_table))
    parts.append(readers_html(data.readers, html_table))
    parts.append(stats_html(data.statistics, html_table))
    parts.append(evaluations_html(data.evaluations, html_table))
    parts.append(explain_html(data.explain, data.explain_figures, html_table))
    parts.append("<p class='note'>Methods: docs/statistics.md and docs/report.md. CSV tables with full "
                 "precision and report.json lie beside this file.</p></body></html>")
    return "\n".join(parts)
