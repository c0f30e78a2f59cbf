"""The browser's listing: which images, in which order, read on a worker thread.

A :class:`Listing` is what the filter bar asks for (the store filter, the order, the
predictions' filter and order, reviewed or not). :func:`load_rows` reads it from a
project (worker thread) and returns everything the GUI shows of it at once: the rows, the
label counts, the import folders, the reviewed ids and the rows' prediction annotations.
The :class:`~affgui.session.ProjectSession` runs it (:meth:`~affgui.session.ProjectSession.reload_rows`).
"""

from __future__ import annotations

import dataclasses

from affgui.predictions import Annotations, PredictionQuery, PredictionReader
from engine.store import ImageFilter, ImageRow, Project


@dataclasses.dataclass(frozen=True)
class Listing:
    """The browser's choices: the store filter and order, the predictions' query, reviewed or not."""

    image_filter: ImageFilter = dataclasses.field(default_factory=ImageFilter)
    order: str = "patient"
    prediction: PredictionQuery | None = None
    reviewed: bool | None = None  # True/False: only (not) reviewed images; None: both


@dataclasses.dataclass(frozen=True)
class Rows:
    """One listing as read: what :meth:`~affgui.session.ProjectSession.set_rows` takes."""

    rows: list[ImageRow]
    counts: dict[str, int]
    folders: list[str]
    reviewed: set[int]
    annotations: Annotations | None = None


def load_rows(project: Project, listing: Listing = Listing(),
              reader: PredictionReader | None = None) -> Rows:
    """The image rows for one listing, the label counts, the import folders, the ids of
    reviewed images and the rows' prediction annotations (worker thread). The annotations
    travel with the rows (there is no shared cache to pick them up from later).

    ``listing.prediction`` (the filter bar's
    :meth:`~affgui.widgets.filter_bar.FilterBarWidget.prediction`) keeps and orders the rows by
    experiments' out-of-fold predictions, read once by ``reader`` (the session's
    :class:`~affgui.predictions.PredictionReader`; a fresh one when ``None``).
    """
    folders = sorted(f for f in project.images.counts(by="source_folder") if f)
    prediction = listing.prediction
    if prediction is not None and reader is None:
        reader = PredictionReader()
    listed = project.images.list(listing.image_filter, order=listing.order)
    rows, annotations = listed, None
    if prediction is not None:
        rows, annotations = reader.select(project, listed, prediction)
    seen = project.labels.reviewed()
    if listing.reviewed is not None:
        rows = [r for r in rows if (r.id in seen) == listing.reviewed]
    return Rows(rows, project.images.counts(by="label"), folders, seen, annotations)
