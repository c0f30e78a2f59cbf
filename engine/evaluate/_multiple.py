"""Multiple comparisons: which pairs to compare, and Holm's step-down adjustment of their p-values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm_adjust(p_values) -> np.ndarray:
    """Holm (1979) adjusted p-values, in the input order; the same as R's ``p.adjust(p, "holm")``.

    Sort ascending, multiply the i-th smallest (1-based) by ``m - i + 1``, carry the
    running maximum forward (so adjusted p-values keep the order of the raw ones) and
    cap at 1. Rejecting where the adjusted p < alpha controls the family-wise error rate.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional, got shape {p.shape}")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must lie in [0, 1] with no NaN")
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def comparison_pairs(names: Sequence[str], reference: str | None = None) -> list[tuple[int, int]]:
    """Index pairs to compare: each against ``reference``, or all pairs ``(i, j)`` with ``i < j``."""
    names = list(names)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"experiment names must be unique; repeated: {dup}")
    if len(names) < 2:
        raise ValueError("comparisons need at least two experiments")
    if reference is None:
        return [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not among the experiments {names}")
    r = names.index(reference)
    return [(i, r) for i in range(len(names)) if i != r]
