"""Experiments' per-image predictions in the dataset browser (no Qt).

* :mod:`affgui.predictions.query`: the filter bar's :class:`PredictionQuery`, the row
  selection it makes (:func:`select_rows`) and the :class:`Annotations` shown with the rows;
* :mod:`affgui.predictions.reader`: :class:`PredictionReader` reads each experiment's
  predictions once (worker thread) and answers a query with ``(rows, annotations)``.

The session owns one reader (``ProjectSession.predictions``); there is no module-global
cache. The part that shows the current image's scores is :mod:`affgui.parts.browser.prediction_info`.
"""

from affgui.predictions.query import MODES, SORTS, Annotations, PredictionQuery, select_rows
from affgui.predictions.reader import PredictionReader, experiment_names

__all__ = ["MODES", "SORTS", "Annotations", "PredictionQuery", "PredictionReader", "experiment_names",
           "select_rows"]
