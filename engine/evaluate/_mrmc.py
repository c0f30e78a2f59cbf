"""Multi-reader multi-case (MRMC): readers' average AUC against a model's, Obuchowski-Rockette.

Readers (random) and cases (random) both vary; the model is one fixed "reader". For each
reader r, ``D_r = AUC_r - AUC_model`` on the same cases. The Obuchowski-Rockette (OR) model
(Obuchowski & Rockette 1995, Commun Stat Simul Comput 24:285) writes
``D_r = mu + R_r + e_r`` with reader effects ``R_r`` (variance ``s2_R``) and errors ``e_r``
from case sampling with variance ``Var1`` and covariance ``Cov2`` between two readers (same
cases). Then

    Var(mean D) = (s2_R + Var1 - Cov2) / R + Cov2 = E[MS_R] / R + Cov2,

estimated by ``MS_R / R + max(Cov2, 0)``, with ``MS_R = sum (D_r - mean D)^2 / (R - 1)`` and
``Cov2`` the average off-diagonal of the DeLong covariance matrix of the ``D_r`` (DeLong,
DeLong & Clarke-Pearson 1988). The test is a t test with Hillis's (2007, Stat Med 26:596)
denominator degrees of freedom ``(MS_R + R max(Cov2, 0))^2 / (MS_R^2 / (R - 1))``. This is
the one-treatment OR analysis (Hillis, Obuchowski & Berbaum 2008) applied to the reader-minus-
model differences. ``docs/statistics.md`` gives the derivation; a simulation test checks the
variance against the empirical variance over many simulated studies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from engine.evaluate._delong import delong_covariance


@dataclass(frozen=True)
class MrmcResult:
    """Readers' average AUC vs the model's AUC on the same cases (OR with Hillis's df)."""

    n_readers: int
    n_cases: int
    reader_aucs: np.ndarray
    reader_mean_auc: float
    reader_mean_ci: tuple[float, float]
    model_auc: float
    difference: float  # mean reader AUC - model AUC
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    ms_reader: float
    cov2: float
    var1: float
    conf_level: float


def _or_variance(values: np.ndarray, cov: np.ndarray) -> tuple[float, float, float, float]:
    """``(variance of the mean, df, MS_R, Cov2, Var1)`` of per-reader estimates and their covariance."""
    r = len(values)
    var1 = float(np.mean(np.diag(cov)))
    if r < 2:
        return var1, float("inf"), 0.0, 0.0, var1
    ms_r = float(np.var(values, ddof=1))
    off = cov[~np.eye(r, dtype=bool)]
    cov2 = float(off.mean())
    c2 = max(cov2, 0.0)
    var = ms_r / r + c2
    df = (ms_r + r * c2) ** 2 / (ms_r**2 / (r - 1)) if ms_r > 0 else float("inf")
    return var, df, ms_r, cov2, var1


def _ci(centre: float, var: float, df: float, conf_level: float) -> tuple[float, float, float, float]:
    se = float(np.sqrt(max(var, 0.0)))
    q = stats.t.ppf(0.5 + conf_level / 2, df) if np.isfinite(df) else stats.norm.ppf(0.5 + conf_level / 2)
    if se == 0:
        return se, centre, centre, (1.0 if centre == 0 else 0.0)
    t = centre / se
    p = 2 * (stats.t.sf(abs(t), df) if np.isfinite(df) else stats.norm.sf(abs(t)))
    return se, centre - q * se, centre + q * se, float(p)


def mrmc_readers_vs_model(labels, reader_scores, model_scores, conf_level: float = 0.95) -> MrmcResult:
    """OR comparison of readers' average AUC (from rating scores) with a model's AUC.

    ``reader_scores``: ``(R, n)``, higher = more likely AFF (e.g. +confidence for AFF, 0
    uncertain, -confidence for NFF); ``model_scores``: ``(n,)``; every reader read every case.
    With one reader the reader variance cannot be estimated and the CI is the fixed-reader one.
    """
    readers = np.atleast_2d(np.asarray(reader_scores, dtype=np.float64))
    model = np.asarray(model_scores, dtype=np.float64)
    if readers.shape[1] != len(model):
        raise ValueError(f"readers scored {readers.shape[1]} cases, the model {len(model)}; pair them first")
    aucs, cov = delong_covariance(labels, np.vstack([readers, model[None, :]]))
    r = len(readers)
    a = np.hstack([np.eye(r), -np.ones((r, 1))])
    d = a @ aucs
    var, df, ms_r, cov2, var1 = _or_variance(d, a @ cov @ a.T)
    se, lo, hi, p = _ci(float(d.mean()), var, df, conf_level)
    rvar, rdf, *_ = _or_variance(aucs[:r], cov[:r, :r])
    _, rlo, rhi, _ = _ci(float(aucs[:r].mean()), rvar, rdf, conf_level)
    return MrmcResult(r, len(model), aucs[:r], float(aucs[:r].mean()), (rlo, rhi), float(aucs[r]),
                      float(d.mean()), se, float(df), lo, hi, p, ms_r, cov2, var1, conf_level)
