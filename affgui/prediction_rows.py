"""Sort and filter image rows by experiments' pooled out-of-fold AFF probabilities (no Qt).

An image that cross-validation did not score (unlabelled, held out, imported later) takes the
P(AFF) that the experiment's final model stored for it (``affengine predict`` or the Results
view's screening: ``engine.final.stored_predictions``), so the mode ``unlabelled_aff`` lists
the unlabelled images likely to show an AFF, most likely first. An out-of-fold probability,
where there is one, always wins: a final model has seen its training images.

:class:`PredictionQuery` is what the filter bar asks for; :class:`PredictionCache` reads
each experiment's predictions once (on a worker thread) and keeps them per project,
experiment and the state of its finished runs' ``predictions.csv`` files, so re-filtering
costs no file reads. The label-review queue is ``engine.evaluate.review_labels`` on the
cached predictions, which is what ``review_experiments`` computes from the same files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.store import ImageRow, Project

if TYPE_CHECKING:
    from engine.evaluate import Predictions, ReviewItem, ReviewQueue

# mode -> (needs the second experiment, what it keeps)
MODES = {
    "aff": (False, "predicted AFF (p >= t)"),
    "nff": (False, "predicted NFF (p < t)"),
    "unlabelled_aff": (False, "likely AFF, not yet labelled: unlabelled images whose final-model (screening) "
                              "P(AFF) is at least t, most likely first"),
    "wrong": (False, "wrong predictions: the prediction at t disagrees with the AFF/NFF label"),
    "review": (False, "label-review queue: the models' mean prediction disagrees with the label, "
                      "most doubtful label first"),
    "models_disagree": (True, "the two experiments fall on different sides of t"),
    "a_right_b_wrong": (True, "the first experiment is right and the second wrong"),
    "b_right_a_wrong": (True, "the second experiment is right and the first wrong"),
}
SORTS = ("desc", "asc")


@dataclass(frozen=True)
class PredictionQuery:
    """Rows to keep (``mode``) and their order (``sort`` by ``experiment``'s P(AFF)); ``None``: all."""

    experiment: str
    mode: str | None = None
    threshold: float = 0.5
    other: str | None = None
    sort: str | None = None

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"unknown prediction filter {self.mode!r} (use one of {', '.join(MODES)})")
        if self.sort is not None and self.sort not in SORTS:
            raise ValueError(f"unknown probability order {self.sort!r} (use 'desc' or 'asc')")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"the threshold must lie in [0, 1], not {self.threshold}")
        if self.mode is not None and MODES[self.mode][0] and not self.other:
            raise ValueError(f"the filter {self.mode!r} compares two experiments: choose a second one")
        if self.other == self.experiment:
            raise ValueError(f"choose two different experiments, not {self.experiment!r} twice")

    @property
    def experiments(self) -> tuple[str, ...]:
        return (self.experiment,) if not self.other else (self.experiment, self.other)


@dataclass(frozen=True)
class Annotations:
    """What the listed rows' tiles and the status line say about their predictions."""

    query: PredictionQuery
    scores: dict[str, dict[int, float]] = field(default_factory=dict)  # experiment -> id -> P(AFF)
    review: dict[int, ReviewItem] = field(default_factory=dict)
    n_review: int = 0
    error: str | None = None  # why the scores could not be read (pass-through listings only)
    # experiment -> (final model id, image id -> its stored screening P(AFF)); see the module doc
    screening: dict[str, tuple[int | None, dict[int, float]]] = field(default_factory=dict)

    def score(self, name: str, image_id: int) -> tuple[float | None, int | None]:
        """``(P(AFF), final model id)``: out of fold (id ``None``), else the final model's, else none."""
        p = self.scores.get(name, {}).get(image_id)
        if p is not None:
            return p, None
        final_id, screened = self.screening.get(name, (None, {}))
        p = screened.get(image_id)
        return (p, final_id) if p is not None else (None, None)

    def shown_scores(self) -> dict[int, float]:
        """The first experiment's P(AFF) per image, as the tiles show it."""
        name = self.query.experiment
        return {**self.screening.get(name, (None, {}))[1], **self.scores.get(name, {})}

    def short(self, image_id: int) -> str:
        """One line: each experiment's P(AFF) and the review rank, e.g. ``cnn 0.83 · vit 0.12 · #3``."""
        if self.error:
            return self.error
        parts = []
        for name in self.query.experiments:
            p, final_id = self.score(name, image_id)
            text_p = "—" if p is None else f"{p:.2f}"
            parts.append(f"{name} {text_p}" + (f" (final {final_id}, screening)" if final_id else ""))
        text = "P(AFF) " + " · ".join(parts)
        item = self.review.get(image_id)
        if item is not None:
            text += f" · review #{item.rank} of {self.n_review}" + (" (flagged)" if item.flagged else "")
        return text

    def long(self, image_id: int, label: str | None = None) -> str:
        """:meth:`short` plus the review queue's reason (and ``label``, the current one, when it
        differs from the label the models were trained with), for tooltips."""
        item = self.review.get(image_id)
        if item is None:
            return self.short(image_id)
        text = f"{self.short(image_id)}\n{item.reason}"
        if label is not None and label != item.label:
            text += f"; now labelled {label}"
        return text


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


class PredictionCache:
    """Experiments' predictions and review queues, read once per state of their run folders."""

    def __init__(self, capacity: int = 16):
        self.capacity = capacity
        self.reads = 0  # predictions read from run folders (one per experiment and state)
        self._lock = threading.Lock()
        self._preds: OrderedDict[tuple, tuple[tuple, Predictions, dict[int, float]]] = OrderedDict()
        self._reviews: OrderedDict[tuple, tuple[tuple, ReviewQueue]] = OrderedDict()
        self._annotations: OrderedDict[tuple, Annotations] = OrderedDict()
        self._screening: OrderedDict[tuple, tuple[tuple, tuple[int | None, dict[int, float]]]] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._preds.clear()
            self._reviews.clear()
            self._annotations.clear()
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

    def annotations(self, project_path, query: PredictionQuery | None) -> Annotations | None:
        """What the latest listing for ``query`` computed; no I/O (safe on the GUI thread)."""
        if query is None:
            return None
        with self._lock:
            return self._annotations.get((str(project_path), query))

    def apply(self, project: Project, rows: list[ImageRow], query: PredictionQuery | None) -> list[ImageRow]:
        """``rows`` filtered and ordered by ``query`` (worker thread); annotations are kept."""
        if query is None:
            return rows
        try:
            scores = {n: self.scores(project, n) for n in query.experiments}
        except ValueError as exc:  # unfinished or unknown experiment
            if query.mode is not None or query.sort is not None:
                raise
            self._keep(project, Annotations(query, error=str(exc)))
            return rows
        screening = {n: self.screening(project, n) for n in query.experiments}
        queue = self.review(project, query.experiments) if query.mode == "review" else None
        review = {it.image_id: it for it in queue.items} if queue is not None else {}
        self._keep(project, Annotations(query, scores, review, len(review), screening=screening))
        merged = {n: {**screening[n][1], **scores[n]} for n in query.experiments}
        return select_rows(rows, query, merged, review)

    def _keep(self, project: Project, annotations: Annotations) -> None:
        with self._lock:
            self._put(self._annotations, (str(project.path), annotations.query), annotations)

    def _put(self, store: OrderedDict, key, value) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.capacity:
            store.popitem(last=False)


def _is_aff(label: str | None) -> bool | None:
    return {"AFF": True, "NFF": False}.get(label)


def select_rows(rows: list[ImageRow], q: PredictionQuery, scores: dict[str, dict[int, float]],
                review: dict[int, ReviewItem] | None = None) -> list[ImageRow]:
    """The rows ``q`` keeps, in its order: review rank, else P(AFF) (unpredicted last), else as given."""
    t = q.threshold
    a = scores[q.experiment]
    b = scores.get(q.other, {}) if q.other else {}

    def keep(r: ImageRow) -> bool:
        truth = _is_aff(r.label)
        pa, pb = a.get(r.id), b.get(r.id)
        if q.mode is None:
            return True
        if q.mode == "review":
            item = (review or {}).get(r.id)
            return item is not None and truth is not None and (item.p_aff_mean >= t) != truth
        if pa is None:
            return False
        if q.mode == "aff":
            return pa >= t
        if q.mode == "nff":
            return pa < t
        if q.mode == "unlabelled_aff":
            return r.label is None and pa >= t
        if q.mode == "wrong":
            return truth is not None and (pa >= t) != truth
        if pb is None:
            return False
        if q.mode == "models_disagree":
            return (pa >= t) != (pb >= t)
        if truth is None:
            return False
        a_right, b_right = (pa >= t) == truth, (pb >= t) == truth
        return a_right and not b_right if q.mode == "a_right_b_wrong" else b_right and not a_right

    kept = [r for r in rows if keep(r)]
    if q.mode == "review":
        return sorted(kept, key=lambda r: review[r.id].rank)
    if q.mode == "unlabelled_aff":  # likely AFF first, whatever the order chosen
        return sorted(kept, key=lambda r: -a[r.id])
    if q.sort is None:
        return kept
    predicted = [r for r in kept if r.id in a]
    predicted.sort(key=lambda r: a[r.id], reverse=q.sort == "desc")  # stable: ties keep the order
    return predicted + [r for r in kept if r.id not in a]
