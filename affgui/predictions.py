"""Filters on model predictions: an experiment's pooled out-of-fold AFF probability.

The scores come from ``engine.evaluate.load_experiment_predictions`` (read on a
worker thread with the image list); nothing here imports torch or timm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from engine.store import ImageRow, Project

if TYPE_CHECKING:
    from affgui.main_window import MainWindow

def experiment_names(project: Project) -> list[str]:
    from engine.jobs import list_experiments

    return [e.name for e in list_experiments(project)]


def image_scores(project: Project, experiment: str) -> dict[int, float]:
    """``image_id -> P(AFF)`` of every image the experiment predicted out of fold."""
    from engine.evaluate import load_experiment_predictions

    p = load_experiment_predictions(project, experiment)
    return dict(zip(p.image_ids.tolist(), p.scores.tolist(), strict=True))


def keep(row: ImageRow, scores: dict[int, float], mode: str, threshold: float) -> bool:
    """Whether ``row`` passes the prediction filter ``mode`` at ``threshold``."""
    score = scores.get(row.id)
    if score is None:
        return False
    if mode == "aff":
        return score >= threshold
    if mode == "nff":
        return score < threshold
    if mode == "disagree":  # only AFF/NFF labels can disagree with an AFF-vs-NFF model
        return row.label in ("AFF", "NFF") and (score >= threshold) != (row.label == "AFF")
    raise ValueError(f"unknown prediction filter {mode!r}")


def filter_rows(project: Project, rows: list[ImageRow],
                prediction: tuple[str, str, float] | None) -> list[ImageRow]:
    """``rows`` that pass ``(experiment, mode, threshold)``; all of them when ``None``."""
    if prediction is None:
        return rows
    experiment, mode, threshold = prediction
    scores = image_scores(project, experiment)
    return [r for r in rows if keep(r, scores, mode, threshold)]


class ExperimentList(QObject):
    """Offers the open project's experiments in the filter bar (listed on a worker)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        window.sigProjectChanged.connect(self.refresh)

    def refresh(self, project: Project | None = None) -> None:
        bar = self.window.filter_bar
        if project is None:
            bar.set_experiments([])
            return
        self.window.tasks.submit(lambda _progress: experiment_names(project),
                                 done=bar.set_experiments,
                                 failed=lambda _exc: bar.set_experiments([]))
