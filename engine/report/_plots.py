"""Report figures as base64 PNG (matplotlib's Agg canvas; no pyplot, no GUI backend)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np

from engine.evaluate import ExperimentResults


def _figure(width: float = 5.2, height: float = 4.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def png_base64(fig) -> str:
    """The figure as a base64-encoded PNG, for an ``<img src="data:image/png;base64,...">``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def roc_figure(results: Sequence[ExperimentResults], level: str) -> str:
    """Overlaid ROC curves; the legend gives each AUC with its DeLong CI."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    for r in results:
        lv = r.level(level)
        pct = round(lv.auc.conf_level * 100)
        ax.plot(lv.roc.fpr, lv.roc.tpr, lw=1.6,
                label=f"{r.name}: AUC {lv.auc.auc:.3f} ({pct}% CI {lv.auc.ci_low:.3f}-{lv.auc.ci_high:.3f})")
    ax.set(xlabel="1 - specificity (false positive rate)", ylabel="sensitivity (true positive rate)",
           xlim=(0, 1), ylim=(0, 1.01), title=f"ROC, {level} level", aspect="equal")
    ax.legend(loc="lower right", fontsize=7)
    return png_base64(fig)


def pr_figure(results: Sequence[ExperimentResults], level: str) -> str:
    """Overlaid precision-recall curves with average precision and the prevalence line."""
    fig = _figure()
    ax = fig.add_subplot()
    for r in results:
        lv = r.level(level)
        ax.step(lv.pr.recall, lv.pr.precision, where="post", lw=1.6,
                label=f"{r.name}: AP {lv.pr.average_precision:.3f}")
    if results:
        prev = results[0].level(level).pr.prevalence
        ax.axhline(prev, ls=":", color="grey", lw=1, label=f"prevalence {prev:.2f}")
    ax.set(xlabel="recall (sensitivity)", ylabel="precision (PPV)", xlim=(0, 1), ylim=(0, 1.01),
           title=f"Precision-recall, {level} level")
    ax.legend(loc="lower left", fontsize=7)
    return png_base64(fig)


def calibration_figure(results: Sequence[ExperimentResults], level: str) -> str:
    """Reliability diagram: observed AFF share against mean predicted probability (empty bins hidden)."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    for r in results:
        cal = r.level(level).calibration
        ok = cal.counts > 0
        ax.errorbar(cal.mean_predicted[ok], cal.observed[ok],
                    # clipped: a Wilson bound can sit a rounding error inside an observed 0 or 1
                    yerr=np.clip(np.vstack([cal.observed[ok] - cal.observed_low[ok],
                                            cal.observed_high[ok] - cal.observed[ok]]), 0, None),
                    marker="o", ms=3, lw=1, capsize=2, label=f"{r.name}: Brier {cal.brier:.3f}")
    ax.set(xlabel="mean predicted AFF probability", ylabel="observed AFF share", xlim=(0, 1), ylim=(0, 1),
           title=f"Calibration, {level} level", aspect="equal")
    ax.legend(loc="upper left", fontsize=7)
    return png_base64(fig)
