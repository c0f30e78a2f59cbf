"""Agreement between readers: Cohen's kappa (weighted too) with its CI, Fleiss' kappa.

- **Cohen's kappa** (Cohen 1960) and **weighted kappa** (Cohen 1968) with the large-sample
  variance of Fleiss, Cohen & Everitt (1969, Psychol Bull 72:323), the variance R's
  ``psych::cohen.kappa`` uses; the CI is ``kappa ± z·se``.
- **Fleiss' kappa** for several readers (Fleiss 1971, Psychol Bull 76:378), with the
  per-category kappas and a bootstrap CI over subjects (or patient clusters), since the
  closed-form standard error of Fleiss, Nee & Landis (1979) holds only under kappa = 0.
- **Specific agreement** per category, ``2 n_kk / (n_k. + n_.k)`` (positive and negative
  agreement for a 2 x 2 table; Cicchetti & Feinstein 1990).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

WEIGHTS = (None, "linear", "quadratic")


@dataclass(frozen=True)
class Kappa:
    """Cohen's (weighted) kappa of two raters over ``n`` subjects, with its confusion table.

    ``table[i, j]``: subjects rater A put in ``categories[i]`` and rater B in
    ``categories[j]``; ``observed``/``expected``: (weighted) agreement seen and by chance.
    """

    kappa: float
    se: float
    ci_low: float
    ci_high: float
    conf_level: float
    n: int
    observed: float
    expected: float
    weights: str | None
    categories: tuple
    table: np.ndarray
    specific_agreement: dict


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' kappa of ``n_raters`` raters over ``n_subjects`` subjects."""

    kappa: float
    se_null: float  # Fleiss, Nee & Landis (1979): the standard error under kappa = 0 (for a test)
    ci_low: float
    ci_high: float
    conf_level: float
    n_subjects: int
    n_raters: int
    categories: tuple
    per_category: dict
    n_boot: int


def _codes(values, categories: Sequence | None) -> tuple[np.ndarray, tuple]:
    values = np.asarray(values, dtype=object)
    cats = tuple(categories) if categories is not None else tuple(sorted(set(values.ravel().tolist())))
    index = {c: k for k, c in enumerate(cats)}
    try:
        codes = np.vectorize(index.__getitem__, otypes=[np.int64])(values) if values.size else \
            np.zeros(values.shape, np.int64)
    except KeyError as exc:
        raise ValueError(f"rating {exc.args[0]!r} is not one of the categories {cats}") from None
    return codes, cats


def confusion_table(a, b, categories: Sequence | None = None) -> tuple[np.ndarray, tuple]:
    """Counts of (A's category, B's category); categories sorted unless given."""
    if len(a) != len(b):
        raise ValueError(f"the two raters rated {len(a)} and {len(b)} subjects; pair them first")
    if categories is None:
        categories = sorted(set(list(a)) | set(list(b)))
    ca, cats = _codes(a, categories)
    cb, _ = _codes(b, categories)
    k = len(cats)
    table = np.bincount(ca * k + cb, minlength=k * k).reshape(k, k).astype(float)
    return table, cats


def agreement_weights(k: int, weights: str | None) -> np.ndarray:
    """Agreement weights ``w[i, j]`` (1 on the diagonal) for ordered categories."""
    if weights not in WEIGHTS:
        raise ValueError(f"unknown kappa weights {weights!r}: use none, linear or quadratic")
    i, j = np.indices((k, k))
    if weights is None or k < 2:
        return (i == j).astype(float)
    d = np.abs(i - j) / (k - 1)
    return 1 - d if weights == "linear" else 1 - d**2


def specific_agreement(table: np.ndarray, categories: tuple) -> dict:
    """``category -> 2 n_kk / (n_k. + n_.k)`` (NaN for a category neither rater used)."""
    margins = table.sum(1) + table.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = 2 * np.diag(table) / margins
    return {c: float(v) for c, v in zip(categories, values, strict=True)}


def kappa_from_table(table: np.ndarray, categories: tuple, weights: str | None = None,
                     conf_level: float = 0.95) -> Kappa:
    """Cohen's kappa and its Fleiss-Cohen-Everitt (1969) CI from a confusion table."""
    table = np.asarray(table, float)
    n = float(table.sum())
    if n == 0:
        raise ValueError("no subject rated by both raters")
    p = table / n
    w = agreement_weights(len(categories), weights)
    row, col = p.sum(1), p.sum(0)
    po = float((w * p).sum())
    pe = float((w * np.outer(row, col)).sum())
    if pe >= 1:  # both raters used a single category: kappa undefined
        kappa = se = float("nan")
    else:
        kappa = (po - pe) / (1 - pe)
        wbar_i = w @ col  # w̄_i. = Σ_j p_.j w_ij
        wbar_j = row @ w  # w̄_.j = Σ_i p_i. w_ij
        inner = (w - (wbar_i[:, None] + wbar_j[None, :]) * (1 - kappa)) ** 2
        var = ((p * inner).sum() - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2)
        se = float(np.sqrt(max(var, 0.0)))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    return Kappa(float(kappa), se, float(kappa - z * se), float(kappa + z * se), conf_level, int(n), po,
                 pe, weights, tuple(categories), table, specific_agreement(table, tuple(categories)))


def cohen_kappa(a, b, categories: Sequence | None = None, weights: str | None = None,
                conf_level: float = 0.95) -> Kappa:
    """Cohen's kappa of two raters' ratings of the same subjects (``a[i]``, ``b[i]``).

    ``weights`` (``linear`` or ``quadratic``) needs ordered ``categories`` (e.g. the scores
    -5..5); categories missing from both raters still count in the weights when given.
    """
    table, cats = confusion_table(a, b, categories)
    return kappa_from_table(table, cats, weights, conf_level)


def _fleiss_counts(counts: np.ndarray) -> tuple[float, np.ndarray]:
    """Fleiss' kappa and per-category kappas from a subjects x categories count matrix."""
    m = counts.sum(1)[0]
    n_sub = counts.shape[0]
    pj = counts.sum(0) / (n_sub * m)
    p_i = ((counts * (counts - 1)).sum(1)) / (m * (m - 1))
    pbar, pe = p_i.mean(), float((pj**2).sum())
    kappa = (pbar - pe) / (1 - pe) if pe < 1 else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        per = 1 - (counts * (m - counts)).sum(0) / (n_sub * m * (m - 1) * pj * (1 - pj))
    return float(kappa), per


def fleiss_kappa(ratings, categories: Sequence | None = None, conf_level: float = 0.95,
                 n_boot: int = 2000, seed: int = 0, clusters=None) -> FleissKappa:
    """Fleiss' kappa of ``ratings`` (subjects x raters; every subject rated by every rater).

    The CI is a percentile bootstrap over subjects, or over ``clusters`` (e.g. the patient of
    each image) when given, so images of one patient are resampled together.
    """
    codes, cats = _codes(np.asarray(ratings, dtype=object), categories)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError("Fleiss' kappa needs a subjects x raters table with at least 2 raters")
    n_sub, m = codes.shape
    k = len(cats)
    counts = np.stack([(codes == c).sum(1) for c in range(k)], axis=1).astype(float)
    kappa, per = _fleiss_counts(counts)
    pj = counts.sum(0) / (n_sub * m)
    s = float((pj * (1 - pj)).sum())
    se0 = (np.sqrt(2) / (s * np.sqrt(n_sub * m * (m - 1)))
           * np.sqrt(max(s**2 - float((pj * (1 - pj) * (1 - 2 * pj)).sum()), 0.0))) if s > 0 else np.nan
    rng = np.random.default_rng(seed)
    groups = np.asarray(clusters) if clusters is not None else np.arange(n_sub)
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    boots = []
    for _ in range(n_boot):
        pick = np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])
        kb, _ = _fleiss_counts(counts[pick])
        if np.isfinite(kb):
            boots.append(kb)
    alpha = 1 - conf_level
    lo, hi = (np.quantile(boots, [alpha / 2, 1 - alpha / 2]) if boots else (np.nan, np.nan))
    return FleissKappa(kappa, float(se0), float(lo), float(hi), conf_level, n_sub, m, cats,
                       {c: float(v) for c, v in zip(cats, per, strict=True)}, len(boots))


def cluster_bootstrap_kappa_ci(a, b, clusters, categories: Sequence | None = None,
                               weights: str | None = None, conf_level: float = 0.95, n_boot: int = 2000,
                               seed: int = 0) -> tuple[float, float]:
    """A percentile CI for Cohen's kappa that resamples patients (images of a patient together)."""
    table, cats = confusion_table(a, b, categories)
    ca, _ = _codes(a, cats)
    cb, _ = _codes(b, cats)
    k = len(cats)
    cell = ca * k + cb
    uniq, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    per_cluster = np.zeros((len(uniq), k * k))
    np.add.at(per_cluster, (inverse, cell), 1.0)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        t = per_cluster[rng.integers(0, len(uniq), len(uniq))].sum(0).reshape(k, k)
        kb = kappa_from_table(t, cats, weights, conf_level).kappa
        if np.isfinite(kb):
            out.append(kb)
    if not out:
        return float("nan"), float("nan")
    alpha = 1 - conf_level
    lo, hi = np.quantile(out, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
