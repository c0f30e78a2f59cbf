"""Non-inferiority and equivalence of two AUCs against a stated margin ``M``.

The difference is ``d = AUC_new - AUC_ref`` (in the study: ViT - CNN).

- **Non-inferiority**: H0 ``d <= -M`` against H1 ``d > -M``, one-sided at ``alpha``.
- **Equivalence** (TOST, Schuirmann 1987): both H0 ``d <= -M`` and H0 ``d >= M`` rejected
  at ``alpha``; ``p_equivalence`` is the larger of the two one-sided p-values, and the
  ``1 - 2 alpha`` interval (90 % for alpha 0.05) lies inside ``(-M, M)`` exactly then.

``method="delong"``: paired DeLong variance, ``p = Phi(-(d + M) / SE)`` and
``Phi((d - M) / SE)``; the cases must be independent (patients). ``method="bootstrap"``:
stratified patient-cluster bootstrap, ``p = (1 + #{d* <= -M}) / (B + 1)`` and
``(1 + #{d* >= M}) / (B + 1)``, the percentile inversions of the one-sided bounds.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.evaluate._bootstrap import NearPerfectAucWarning, bootstrap_auc_difference
from engine.evaluate._delong import delong_test


@dataclass(frozen=True)
class MarginTest:
    """One-sided non-inferiority test and TOST of ``auc_new - auc_ref`` against ``margin``."""

    auc_new: float
    auc_ref: float
    difference: float
    se: float
    margin: float
    alpha: float
    method: str
    p_noninferior: float
    p_equivalence: float
    ci_low: float  # the 1 - 2 alpha interval of the difference
    ci_high: float

    @property
    def noninferior(self) -> bool:
        return self.p_noninferior < self.alpha

    @property
    def equivalent(self) -> bool:
        return self.p_equivalence < self.alpha


def check_margin(margin: float) -> float:
    margin = float(margin)
    if not (math.isfinite(margin) and 0.0 < margin < 1.0):
        raise ValueError(f"the non-inferiority margin must be an AUC difference in (0, 1), got {margin!r}")
    return margin


def _check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    return float(alpha)


def margin_test_delong(labels, scores_new, scores_ref, margin: float, alpha: float = 0.05) -> MarginTest:
    """Non-inferiority and TOST with the paired DeLong variance (independent cases: patients)."""
    margin, alpha = check_margin(margin), _check_alpha(alpha)
    t = delong_test(labels, scores_new, scores_ref, conf_level=1 - 2 * alpha)
    d, se = t.difference, t.se
    if se > 0:
        p_low = float(stats.norm.sf((d + margin) / se))
        p_high = float(stats.norm.cdf((d - margin) / se))
    else:
        p_low = 0.0 if d > -margin else 1.0
        p_high = 0.0 if d < margin else 1.0
    return MarginTest(auc_new=t.auc_a, auc_ref=t.auc_b, difference=d, se=se, margin=margin, alpha=alpha,
                      method="delong", p_noninferior=p_low, p_equivalence=max(p_low, p_high),
                      ci_low=t.ci_low, ci_high=t.ci_high)


def margin_test_bootstrap(labels, scores_new, scores_ref, margin: float, patients=None, alpha: float = 0.05,
                          n_boot: int = 2000, seed: int = 0) -> MarginTest:
    """Non-inferiority and TOST from the stratified patient-cluster bootstrap (image level)."""
    margin, alpha = check_margin(margin), _check_alpha(alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearPerfectAucWarning)  # the caller flags near-1 AUCs
        c = bootstrap_auc_difference(labels, scores_new, scores_ref, patients=patients, n_boot=n_boot,
                                     seed=seed, conf_level=1 - 2 * alpha)
    reps, b = c.replicates, len(c.replicates)
    p_low = (1 + int(np.sum(reps <= -margin))) / (b + 1)
    p_high = (1 + int(np.sum(reps >= margin))) / (b + 1)
    return MarginTest(auc_new=float(c.aucs[0]), auc_ref=float(c.aucs[1]), difference=c.estimate, se=c.se,
                      margin=margin, alpha=alpha, method="bootstrap", p_noninferior=p_low,
                      p_equivalence=max(p_low, p_high), ci_low=c.ci_low, ci_high=c.ci_high)
