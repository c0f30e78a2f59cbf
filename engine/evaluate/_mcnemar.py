"""McNemar's test on paired correct/incorrect decisions of two models at their operating points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.evaluate._checks import as_labels, as_scores, same_length

EXACT_BELOW = 25  # discordant pairs; below this the chi-square approximation is poor


@dataclass(frozen=True)
class McNemarTest:
    """McNemar's test. ``b``: A right and B wrong; ``c``: A wrong and B right.

    ``statistic`` is the continuity-corrected chi-square ``(|b - c| - 1)^2 / (b + c)``
    (no correction when ``b == c``, as R's ``mcnemar.test``; NaN when ``b + c == 0``).
    ``p_exact`` is the two-sided binomial p of ``b`` in ``b + c`` trials at 1/2 (R's
    ``binom.test``); ``p_value`` is the one ``method`` names.
    """

    b: int
    c: int
    n: int
    statistic: float
    p_chi2: float
    p_exact: float
    method: str
    p_value: float


def _as_bool(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype != bool:
        arr = as_labels(arr, name).astype(bool)
    return arr


def mcnemar_test(correct_a, correct_b, exact: bool | None = None) -> McNemarTest:
    """Test whether two models' error rates differ on the same cases.

    ``exact=None`` (default) uses the exact binomial test when there are fewer than
    25 discordant pairs and the continuity-corrected chi-square otherwise; ``True`` or
    ``False`` forces one. Cases must be independent (one decision per patient).
    """
    a, b_ = _as_bool(correct_a, "correct_a"), _as_bool(correct_b, "correct_b")
    same_length(correct_a=a, correct_b=b_)
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    n = b + c
    if n == 0:
        stat, p_chi2, p_exact = float("nan"), 1.0, 1.0
    else:
        correction = 1.0 if b != c else 0.0
        stat = (abs(b - c) - correction) ** 2 / n
        p_chi2 = float(stats.chi2.sf(stat, df=1))
        p_exact = float(min(1.0, 2.0 * stats.binom.cdf(min(b, c), n, 0.5)))
    use_exact = n < EXACT_BELOW if exact is None else bool(exact)
    return McNemarTest(b=b, c=c, n=n, statistic=stat, p_chi2=p_chi2, p_exact=p_exact,
                       method="exact" if use_exact else "chi2",
                       p_value=p_exact if use_exact else p_chi2)


def mcnemar_at_thresholds(labels, scores_a, scores_b, threshold_a: float, threshold_b: float,
                          exact: bool | None = None) -> McNemarTest:
    """McNemar's test of two models, each called AFF when its score ``>=`` its own threshold."""
    y = as_labels(labels)
    sa, sb = as_scores(scores_a, "scores_a"), as_scores(scores_b, "scores_b")
    same_length(labels=y, scores_a=sa, scores_b=sb)
    correct_a = (sa >= threshold_a) == (y == 1)
    correct_b = (sb >= threshold_b) == (y == 1)
    return mcnemar_test(correct_a, correct_b, exact=exact)
