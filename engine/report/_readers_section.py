"""The report's "readers" section: who read, how well they agree, how the labels were made, and
the model against the readers (sensitivity/specificity with Wilson CIs, misses, MRMC), with the
standard figure of the readers as points on the model's ROC curve.

Built only when the project has reads. The sessions compared are every session with a read;
the model is the report's reference experiment (else its first).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store import Project

NOTE = ("Reads are stored apart from the current labels (one reading session per reader). Cohen's "
        "kappa with the Fleiss-Cohen-Everitt (1969) CI; at image level also a CI that resamples patients. "
        "Weighted kappa (quadratic) on the score scale +confidence AFF / 0 uncertain / -confidence NFF. "
        "Fleiss' kappa with a bootstrap CI. 'vs current labels' is partly circular where labels were "
        "adjudicated from these reads.")
MODEL_NOTE = ("Cases: those read in every session and predicted out of fold. Truth: the experiment's "
              "labels (its split's, made before any adjudication). A reader's call is positive when AFF "
              "(uncertain counts as not AFF). The model's threshold per fold comes from that fold's training "
              "predictions ({rule}). CIs: Wilson. MRMC: Obuchowski-Rockette with Hillis's df on the readers' "
              "score AUCs minus the model's AUC (docs/statistics.md).")


def readers_section(project: Project, names: Sequence[str], reference: str | None, level: str) -> dict | None:
    """JSON-ready section, or None when no session has a read."""
    from engine.evaluate import reader_agreement, readers_vs_model
    from engine.reads import list_sessions, progress

    sessions = []
    for s in list_sessions(project):
        done, total = progress(project, s)
        if done:
            secs = [r[0] for r in project.query("SELECT seconds FROM reads WHERE session_id = ? AND "
                                                "seconds IS NOT NULL", (s.id,))]
            sessions.append({"session": s.name, "reader": s.reader, "mode": s.mode, "source": s.source,
                             "images": total, "read": done, "image_set": s.image_set.describe(),
                             "median_seconds": float(sorted(secs)[len(secs) // 2]) if secs else None})
    if not sessions:
        return None
    names_read = [s["session"] for s in sessions]
    ag = reader_agreement(project, names_read, level)
    sources = {r[0]: r[1] for r in project.query("SELECT source, COUNT(*) FROM labels GROUP BY source")}
    rules = {r[0]: r[1] for r in project.query(
        "SELECT a.rule, COUNT(*) FROM labels l JOIN adjudications a ON a.image_id = l.image_id AND a.id = "
        "(SELECT MAX(id) FROM adjudications WHERE image_id = l.image_id) WHERE l.source = 'adjudication' "
        "GROUP BY a.rule")}
    total = sum(sources.values())
    section = {
        "level": level, "sessions": sessions,
        "pairs": [{"first": p.first, "second": p.second, "n": p.n, "kappa": p.kappa.kappa,
                   "ci_low": p.kappa.ci_low, "ci_high": p.kappa.ci_high,
                   "patient_ci_low": p.patient_ci[0] if p.patient_ci else None,
                   "patient_ci_high": p.patient_ci[1] if p.patient_ci else None,
                   "agreement": p.kappa.observed, "weighted_kappa": p.weighted.kappa,
                   "weighted_ci_low": p.weighted.ci_low, "weighted_ci_high": p.weighted.ci_high,
                   "specific_aff": p.kappa.specific_agreement.get("AFF"),
                   "specific_nff": p.kappa.specific_agreement.get("NFF"),
                   "categories": list(p.kappa.categories), "table": p.kappa.table.tolist()}
                  for p in ag.pairs],
        "fleiss": None if ag.fleiss is None or len(names_read) < 3 else {
            "kappa": ag.fleiss.kappa, "ci_low": ag.fleiss.ci_low, "ci_high": ag.fleiss.ci_high,
            "n": ag.fleiss.n_subjects, "raters": ag.fleiss.n_raters},
        "vs_labels": [{"session": v.session, "reader": v.reader, "n": v.n, "kappa": v.kappa.kappa,
                       "ci_low": v.kappa.ci_low, "ci_high": v.kappa.ci_high} for v in ag.vs_labels],
        "labels": {"total": total, "by_source": sources, "adjudicated": sources.get("adjudication", 0),
                   "adjudicated_share": sources.get("adjudication", 0) / total if total else 0.0,
                   "adjudicated_by_rule": rules},
        "model": None, "model_error": None,
    }
    experiment = reference or names[0]
    try:
        r = readers_vs_model(project, names_read, experiment, level)
    except ValueError as exc:
        section["model_error"] = f"{experiment}: {exc}"
        return section
    m = r.model
    points = [{"name": f"model ({r.rule})", "reader": experiment, **_point(m), "misses_model_finds": None,
               "finds_model_misses": None}]
    for x in r.readers:
        points.append({"name": x.session, "reader": x.reader, **_point(x.point),
                       "misses_model_finds": len(x.missed_found_by_model),
                       "finds_model_misses": len(x.found_missed_by_model),
                       "false_alarms_model_not": x.false_alarms_model_not,
                       "model_false_alarms_reader_not": x.model_false_alarms_reader_not})
    mr = r.mrmc
    section["model"] = {
        "experiment": experiment, "rule": r.rule, "n_cases": r.n_cases, "n_aff": r.n_aff, "points": points,
        "roc_fpr": r.roc_fpr.tolist(), "roc_tpr": r.roc_tpr.tolist(),
        "mrmc": None if mr is None else {
            "readers": mr.n_readers, "reader_mean_auc": mr.reader_mean_auc, "model_auc": mr.model_auc,
            "difference": mr.difference, "ci_low": mr.ci_low, "ci_high": mr.ci_high, "df": mr.df,
            "p_value": mr.p_value, "reader_mean_ci_low": mr.reader_mean_ci[0],
            "reader_mean_ci_high": mr.reader_mean_ci[1]}}
    section["answer"] = _answer(section)
    return section


def _point(p) -> dict:
    return {"tp": p.tp, "fn": p.fn, "fp": p.fp, "tn": p.tn, "sensitivity": p.sensitivity,
            "sensitivity_low": p.sensitivity_ci[0], "sensitivity_high": p.sensitivity_ci[1],
            "specificity": p.specificity, "specificity_low": p.specificity_ci[0],
            "specificity_high": p.specificity_ci[1], "auc": p.auc}


def _answer(section: dict) -> str:
    m = section["model"]
    parts = []
    for p in m["points"][1:]:
        parts.append(f"{p['reader']} misses {p['misses_model_finds']} of {m['n_aff']} AFF that the model "
                     f"finds and finds {p['finds_model_misses']} that the model misses "
                     f"(sensitivity {p['sensitivity']:.2f} vs the model's "
                     f"{m['points'][0]['sensitivity']:.2f})")
    text = "; ".join(parts) + "."
    mr = m["mrmc"]
    if mr is not None:
        text += (f" Readers' mean AUC {mr['reader_mean_auc']:.3f} vs the model's {mr['model_auc']:.3f}: "
                 f"difference {mr['difference']:+.3f} (95% CI {mr['ci_low']:+.3f} to {mr['ci_high']:+.3f}, "
                 f"Obuchowski-Rockette, p = {mr['p_value']:.3g}).")
    return text


def sessions_table(section: dict):
    header = ["session", "reader", "mode", "source", "images", "read", "median_seconds", "image_set"]
    return header, [[s[h] for h in header] for s in section["sessions"]]


def agreement_table(section: dict):
    header = ["first", "second", "n", "kappa", "ci_low", "ci_high", "patient_ci_low", "patient_ci_high",
              "agreement", "weighted_kappa", "weighted_ci_low", "weighted_ci_high", "specific_aff",
              "specific_nff"]
    rows = [[p[h] for h in header] for p in section["pairs"]]
    if section["fleiss"]:
        f = section["fleiss"]
        rows.append([f"Fleiss ({f['raters']} readers)", "", f["n"], f["kappa"], f["ci_low"], f["ci_high"]]
                    + [""] * 8)
    rows += [[v["session"], "current labels", v["n"], v["kappa"], v["ci_low"], v["ci_high"]] + [""] * 8
             for v in section["vs_labels"]]
    return header, rows


def labels_table(section: dict):
    lab = section["labels"]
    rows = [[f"current labels from {k}", v] for k, v in sorted(lab["by_source"].items())]
    rows += [["adjudicated share", lab["adjudicated_share"]]]
    rows += [[f"adjudicated by {k}", v] for k, v in sorted(lab["adjudicated_by_rule"].items())]
    return ["item", "value"], rows


def model_table(section: dict):
    header = ["name", "reader", "tp", "fn", "fp", "tn", "sensitivity", "sensitivity_low", "sensitivity_high",
              "specificity", "specificity_low", "specificity_high", "auc", "misses_model_finds",
              "finds_model_misses"]
    m = section.get("model")
    rows = [[p.get(h) for h in header] for p in m["points"]] if m else []
    if m and m["mrmc"]:
        mr = m["mrmc"]
        rows.append([f"MRMC: mean reader AUC - model AUC = {mr['difference']:+.4f}", "", "", "", "", "",
                     "", "", "", "", mr["ci_low"], mr["ci_high"], mr["reader_mean_auc"], "", ""])
    return header, rows


READER_TABLES = {"readers_sessions": sessions_table, "readers_agreement": agreement_table,
                 "readers_labels": labels_table, "readers_vs_model": model_table}


def readers_roc_figure(section: dict) -> str | None:
    """The model's ROC curve with each reader as a point (Wilson CIs as error bars) and the model's
    held-out operating point; None without a model comparison."""
    from engine.report._plots import _figure, png_base64

    m = section.get("model") if section else None
    if not m:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    model = m["points"][0]
    ax.plot(m["roc_fpr"], m["roc_tpr"], lw=1.6, color="#4a78b5",
            label=f"{m['experiment']}: AUC {model['auc']:.3f}")
    for p, marker in zip(m["points"], ["s"] + ["o", "^", "D", "v", "P", "X"] * 10, strict=False):
        x, y = 1 - p["specificity"], p["sensitivity"]
        xerr = [[max(x - (1 - p["specificity_high"]), 0)], [max((1 - p["specificity_low"]) - x, 0)]]
        ax.errorbar([x], [y], xerr=xerr,
                    yerr=[[max(y - p["sensitivity_low"], 0)], [max(p["sensitivity_high"] - y, 0)]],
                    marker=marker, ms=6, lw=1, capsize=2, ls="none",
                    color="#4a78b5" if marker == "s" else None,
                    label=f"{p['name'] if marker == 's' else p['reader']}: sens {y:.2f}, spec {1 - x:.2f}")
    ax.set(xlabel="1 - specificity (false positive rate)", ylabel="sensitivity (true positive rate)",
           xlim=(0, 1), ylim=(0, 1.01), title=f"Readers on the model's ROC, {section['level']} level",
           aspect="equal")
    ax.legend(loc="lower right", fontsize=7)
    return png_base64(fig)


def readers_html(section: dict | None, table_html) -> str:
    """The section's HTML; empty without reads."""
    if not section:
        return ""
    parts = ["<h2>Readers</h2>", f"<p class='note'>{html.escape(NOTE)}</p>",
             table_html(sessions_table(section)), "<h3>Agreement</h3>", table_html(agreement_table(section)),
             "<h3>How the labels were made</h3>", table_html(labels_table(section)),
             "<h3>Model against readers</h3>"]
    if section.get("model_error"):
        parts.append(f"<p class='note'>{html.escape(section['model_error'])}</p>")
    elif section.get("model"):
        parts += [f"<div class='answer'><b>How often do readers miss AFF that the model finds, and the other "
                  f"way round?</b><br>{html.escape(section['answer'])}</div>",
                  f"<p class='note'>{html.escape(MODEL_NOTE.format(rule=section['model']['rule']))}</p>",
                  table_html(model_table(section))]
    return "\n".join(parts)
