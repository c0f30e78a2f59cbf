"""What the filter bar asks of experiments' predictions, and what the listing then shows (pure, no I/O).

:class:`PredictionQuery` is the filter bar's question; :func:`select_rows` answers it from
scores already read; :class:`Annotations` is what the listing hands the tiles and the status
line (it travels with the rows from the worker thread, see :func:`affgui.listing.load_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.store import ImageRow

if TYPE_CHECKING:
    from engine.evaluate import ReviewItem

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
