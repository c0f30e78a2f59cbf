"""Read experiments' pooled out-of-fold AFF probabilities once, and sort and filter rows by them (no Qt).

An image that cross-validation did not score (unlabelled, held out, imported later) takes the
P(AFF) that the experiment's final model stored for it (``affengine predict`` or the Results
view's screening: ``engine.final.stored_predictions``), so the mode ``unlabelled_aff`` lists
the unlabelled images likely to show an AFF, most likely first. An out-of-fold probability,
where there is one, always wins: a final model has seen its training images.

:class:`PredictionQuery` is what the filter bar asks for; :class:`PredictionReader` reads
each experiment's predictions once (on a worker thread) and keeps them per project,
experiment and the state of its finished runs' ``predictions.csv`` files, so re-filtering
costs no file reads. The label-review queue is ``engine.evaluate.review_labels`` on the
cached predictions, which is what ``review_experiments`` computes from the same files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from affgui.predictions.query import Annotations, PredictionQuery, select_rows
from engine.store import ImageRow, Project

if TYPE_CHECKING:
    from engine.evaluate import Predictions, ReviewQueue


def experiment_names(project: Project) -> list[str]:
    from engine.experiments import list_experiments

    return [e.name for e in list_experiments(project)]


def _stamp(project: Project, name: str) -> tuple:
    """What changes when the experiment's outputs change: its finished jobs and predictions' mtimes."""
    from engine.experiments import experiment_jobs
    from engine.train import PREDICTIONS

    try:
        jobs = experiment_jobs(project, name)
    except KeyError as exc:  # KeyError's text would come out quoted
        raise ValueError(exc.args[0]) from None
    stamp = []
    for job in jobs:
        if job.state == "finished":
            try:
                mtime = (project.runs_dir / job.run_id / PREDICTIONS).stat().st_mtime_ns
            except OSError:
                mtime = -1
            stamp.append((job.id, job.run_id, mtime))
    return tuple(stamp)


class PredictionReader:
    """Experiments' predictions and review queues, read once per state of their run folders."""

    def __init__(self, capacity: int = 16):
        self.capacity = capacity
        self.reads = 0  # predictions read from run folders (one per experiment and state)
        self._lock = threading.Lock()
        self._preds: OrderedDict[tuple, tuple[tuple, Predictions, dict[int, float]]] = OrderedDict()
        self._reviews: OrderedDict[tuple, tuple[tuple, ReviewQueue]] = OrderedDict()
        self._screening: OrderedDict[tuple, tuple[tuple, tuple[int | None, dict[int, float]]]] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._preds.clear()
            self._reviews.clear()
            self._screening.clear()

    def predictions(self, project: Project, name: str) -> tuple[tuple, Predictions, dict[int, float]]:
        """``(stamp, Predictions, image_id -> P(AFF))`` of one experiment (worker thread)."""
        from engine.evaluate import load_experiment_predictions

        key, stamp = (str(project.path), name), _stamp(project, name)
        with self._lock:
            hit = self._preds.get(key)
        if hit is not None and hit[0] == stamp:
            return hit
        preds = load_experiment_predictions(project, name)
        entry = (stamp, preds, dict(zip(preds.image_ids.tolist(), preds.scores.tolist(), strict=True)))
        with self._lock:
            self.reads += 1
            self._put(self._preds, key, entry)
        return entry

    def scores(self, project: Project, name: str) -> dict[int, float]:
        return self.predictions(project, name)[2]

    def screening(self, project: Project, name: str) -> tuple[int | None, dict[int, float]]:
        """``(final model id, image id -> P(AFF))`` of the experiment's newest final model that stored
        predictions (worker thread); read again only when that model or its row count changed."""
        from engine.final import stored_predictions

        rows = project.query(
            "SELECT p.final_model_id, COUNT(*), MAX(p.predicted_at) FROM predictions p "
            "JOIN final_models f ON f.id = p.final_model_id JOIN experiments e ON e.id = f.experiment_id "
            "WHERE e.name = ? GROUP BY p.final_model_id ORDER BY p.final_model_id DESC LIMIT 1", (name,))
        stamp = tuple(rows[0]) if rows else ()
        key = (str(project.path), name)
        with self._lock:
            hit = self._screening.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        entry: tuple[int | None, dict[int, float]] = (None, {})
        if stamp:
            preds = stored_predictions(project, final_model_id=stamp[0])
            entry = (stamp[0], {i: p.probability for i, p in preds.items()})
        with self._lock:
            self._put(self._screening, key, (stamp, entry))
        return entry

    def review(self, project: Project, names: tuple[str, ...]) -> ReviewQueue:
        """The label-review queue of ``names`` (the order of ``review_experiments``)."""
        from engine.evaluate import review_labels

        entries = [self.predictions(project, n) for n in names]
        key, stamp = (str(project.path), names), tuple(e[0] for e in entries)
        with self._lock:
            hit = self._reviews.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        # Without current labels: the ranking depends on the training labels only, and the
        # rows carry the current ones.
        queue = review_labels([e[1] for e in entries])
        with self._lock:
            self._put(self._reviews, key, (stamp, queue))
        return queue

    def select(self, project: Project, rows: list[ImageRow],
               query: PredictionQuery | None) -> tuple[list[ImageRow], Annotations | None]:
        """``rows`` filtered and ordered by ``query``, with what the tiles show of them (worker thread)."""
        if query is None:
            return rows, None
        try:
            scores = {n: self.scores(project, n) for n in query.experiments}
        except ValueError as exc:  # unfinished or unknown experiment
            if query.mode is not None or query.sort is not None:
                raise
            return rows, Annotations(query, error=str(exc))
        screening = {n: self.screening(project, n) for n in query.experiments}
        queue = self.review(project, query.experiments) if query.mode == "review" else None
        review = {it.image_id: it for it in queue.items} if queue is not None else {}
        annotations = Annotations(query, scores, review, len(review), screening=screening)
        merged = {n: {**screening[n][1], **scores[n]} for n in query.experiments}
        return select_rows(rows, query, merged, review), annotations

    def apply(self, project: Project, rows: list[ImageRow], query: PredictionQuery | None) -> list[ImageRow]:
        """Only the rows of :meth:`select`."""
        return self.select(project, rows, query)[0]

    def _put(self, store: OrderedDict, key, value) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.capacity:
            store.popitem(last=False)
