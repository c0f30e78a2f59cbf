"""Label review queue: images whose label the out-of-fold predictions doubt most (confident learning).

The AFF probabilities of the experiments are averaged per image (an ensemble of out-of-fold
predictions: no model has seen the image it scores), then ``cleanlab`` ranks the labels by
quality (the ensemble's probability of the given label, ``self_confidence``) and flags the
images that confident learning counts as likely mislabelled (``prune_by_noise_rate``).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.evaluate._predictions import Predictions, align_predictions
from engine.evaluate._results import to_jsonable
from engine.store import csv_cell

_NAMES = {1: "AFF", 0: "NFF"}
REVIEW_COLUMNS = ("rank", "image_id", "patient_id", "label", "current_label", "quality", "flagged",
                  "p_aff_mean", "models_disagreeing", "reason")


@dataclass(frozen=True)
class ReviewItem:
    """One image in the queue; ``quality`` is low when the models doubt ``label`` (its training label)."""

    rank: int
    image_id: int
    patient_id: str
    label: str
    current_label: str | None
    quality: float
    flagged: bool
    p_aff_mean: float
    p_aff: dict[str, float]
    models_disagreeing: int
    reason: str


@dataclass(frozen=True)
class ReviewQueue:
    """Every image, most doubtful first; ``n_flagged`` images are flagged by confident learning."""

    experiments: tuple[str, ...]
    method: str
    n_images: int
    n_flagged: int
    items: tuple[ReviewItem, ...]

    def top(self, n: int | None) -> tuple[ReviewItem, ...]:
        return self.items if n is None else self.items[:n]

    def to_json(self) -> dict:
        return to_jsonable(self)

    def write_csv(self, path: str | Path, top: int | None = None) -> Path:
        """The queue as CSV: the columns of :data:`REVIEW_COLUMNS` plus ``p_aff_<experiment>`` each."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(list(REVIEW_COLUMNS) + [f"p_aff_{e}" for e in self.experiments])
            for it in self.top(top):
                w.writerow([it.rank, it.image_id, csv_cell(it.patient_id), it.label, it.current_label or "",
                            f"{it.quality:.6f}", int(it.flagged), f"{it.p_aff_mean:.6f}",
                            it.models_disagreeing, it.reason]
                           + [f"{it.p_aff[e]:.6f}" for e in self.experiments])
        return path


def _reason(label: int, p_mean: float, probs: dict[str, float], flagged: bool, n_disagree: int,
            current: str | None) -> str:
    other = _NAMES[1 - label]
    p_other = p_mean if label == 0 else 1.0 - p_mean
    each = ", ".join(f"{k} {v:.2f}" for k, v in probs.items())
    text = (f"labelled {_NAMES[label]}, but the mean {other} probability is {p_other:.2f} "
            f"(AFF probability per model: {each}); {n_disagree} of {len(probs)} models favour {other}")
    text += "; flagged as a likely label error by confident learning" if flagged else ""
    if current is not None and current != _NAMES[label]:
        text += f"; label already changed to {current} since training"
    return text


def review_labels(experiments: Sequence[Predictions], current_labels: dict[int, str] | None = None,
                  method: str = "self_confidence") -> ReviewQueue:
    """Rank every image by how much the experiments' out-of-fold predictions doubt its label.

    ``current_labels`` (image id -> label now in the project) marks images relabelled since the
    experiments were trained. ``method`` is a cleanlab label-quality method
    (``self_confidence``, ``normalized_margin`` or ``confidence_weighted_entropy``).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    if not experiments:
        raise ValueError("label review needs the predictions of at least one experiment")
    aligned = align_predictions(*experiments) if len(experiments) > 1 else (experiments[0],)
    first = aligned[0]
    y = first.labels
    if len(np.unique(y)) < 2:
        raise ValueError(f"label review needs both AFF and NFF images; all {len(y)} are {_NAMES[int(y[0])]}")
    p_each = np.vstack([e.scores for e in aligned])
    if p_each.min() < 0 or p_each.max() > 1:
        raise ValueError("label review needs probabilities in [0, 1]")
    p = p_each.mean(axis=0)
    probs = np.column_stack([1.0 - p, p])
    quality = get_label_quality_scores(y, probs, method=method)
    flagged = find_label_issues(y, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    # Most doubtful first; ties (equal quality) by image id so the queue is reproducible.
    order = np.lexsort((first.image_ids, quality))
    disagree = ((p_each >= 0.5) != (y == 1)[None, :]).sum(axis=0)
    names = tuple(e.name for e in aligned)
    current_labels = current_labels or {}
    items = []
    for rank, i in enumerate(order, start=1):
        image_id = int(first.image_ids[i])
        per = {n: float(p_each[k, i]) for k, n in enumerate(names)}
        current = current_labels.get(image_id)
        items.append(ReviewItem(
            rank=rank, image_id=image_id, patient_id=str(first.patients[i]), label=_NAMES[int(y[i])],
            current_label=current, quality=float(quality[i]), flagged=bool(flagged[i]),
            p_aff_mean=float(p[i]), p_aff=per, models_disagreeing=int(disagree[i]),
            reason=_reason(int(y[i]), float(p[i]), per, bool(flagged[i]), int(disagree[i]), current)))
    return ReviewQueue(experiments=names, method=method, n_images=len(y), n_flagged=int(flagged.sum()),
                       items=tuple(items))


def review_experiments(project, names: Sequence[str], method: str = "self_confidence") -> ReviewQueue:
    """:func:`review_labels` on finished experiments of a project, with the project's current labels."""
    from engine.evaluate._runs import load_experiment_predictions

    preds = [load_experiment_predictions(project, n) for n in dict.fromkeys(names)]
    return review_labels(preds, project.labels.all(), method)
