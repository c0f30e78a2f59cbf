"""The corrected resampled t-test for repeated cross-validation (Nadeau & Bengio 2003).

The J = R x K paired fold differences of repeated K-fold CV are not independent: the
training sets overlap. Nadeau & Bengio (Machine Learning 52:239, 2003) inflate the
variance of the mean difference from ``s^2 / J`` to ``(1/J + n_test/n_train) s^2``;
Bouckaert & Frank (PAKDD 2004) apply it to repeated K-fold with ``df = J - 1``.
The CI therefore carries split (resampling) variance and, when seeds are repeated too,
seed variance; it is not a patient-level sampling CI. Formula: ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class CorrectedTTest:
    """Mean paired difference (A - B) across folds with the Nadeau-Bengio corrected variance."""

    mean_difference: float
    se: float
    t: float
    df: int
    p_value: float
    ci_low: float
    ci_high: float
    n_pairs: int
    test_train_ratio: float
    confidence: float = 0.95


def corrected_resampled_ttest(
    differences, n_test, n_train, confidence: float = 0.95
) -> CorrectedTTest:
    """Two-sided corrected resampled t-test on per-fold paired differences.

    Parameters
    ----------
    differences
        One paired difference per (repeat, fold) (and per seed, if seeds are paired),
        e.g. AUC of A minus AUC of B on the same test fold.
    n_test, n_train
        Test and training set sizes, either scalars or one value per difference (their
        means are used, as Bouckaert & Frank do for folds of slightly unequal size).
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    if d.size < 2:
        raise ValueError(f"the corrected t-test needs at least 2 paired differences, got {d.size}")
    if not np.all(np.isfinite(d)):
        raise ValueError("paired differences must be finite")
    nte = float(np.mean(np.asarray(n_test, dtype=np.float64)))
    ntr = float(np.mean(np.asarray(n_train, dtype=np.float64)))
    if nte <= 0 or ntr <= 0:
        raise ValueError(f"test and training sizes must be positive, got {nte} and {ntr}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    j = d.size
    ratio = nte / ntr
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    se = float(np.sqrt((1.0 / j + ratio) * var))
    df = j - 1
    if se == 0.0:
        t = 0.0 if mean == 0.0 else float(np.copysign(np.inf, mean))
        p = 1.0 if mean == 0.0 else 0.0
    else:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df)) * se
    return CorrectedTTest(
        mean_difference=mean, se=se, t=float(t), df=df, p_value=min(1.0, p),
        ci_low=mean - half, ci_high=mean + half, n_pairs=j, test_train_ratio=ratio,
        confidence=confidence,
    )
