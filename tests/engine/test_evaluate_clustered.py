"""Obuchowski's clustered AUC variance: brute force, K identical images = patient level, a simulation,
and the warning DeLong gives on repeated patients."""

import warnings

import numpy as np
import pytest

from engine.evaluate import (
    RepeatedPatientsWarning,
    clustered_auc_ci,
    clustered_auc_test,
    delong_ci,
    delong_covariance,
    delong_test,
    obuchowski_covariance,
)


def _brute(y, s, clusters):
    """Obuchowski (1997) written out with explicit pair comparisons."""
    y, s, clusters = map(np.asarray, (y, s, clusters))
    x, yy = s[y == 1], s[y == 0]
    cx, cy = clusters[y == 1], clusters[y == 0]
    psi = (x[:, None] > yy[None, :]) + 0.5 * (x[:, None] == yy[None, :])
    big_m, big_n = len(x), len(yy)
    theta = psi.mean()
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    ids = np.unique(clusters)
    a = np.array([v10[cx == i].sum() - (cx == i).sum() * theta for i in ids])
    b = np.array([v01[cy == i].sum() - (cy == i).sum() * theta for i in ids])
    i10 = sum((cx == i).any() for i in ids)
    i01 = sum((cy == i).any() for i in ids)
    n = len(ids)
    s10 = i10 / ((i10 - 1) * big_m) * np.sum(a * a)
    s01 = i01 / ((i01 - 1) * big_n) * np.sum(b * b)
    s11 = n / (n - 1) * np.sum(a * b)
    return theta, s10 / big_m + s01 / big_n + 2 * s11 / (big_m * big_n)


def _clustered_data(n_pat=60, seed=0, per=(1, 5), rho=0.7, mixed=True):
    rng = np.random.default_rng(seed)
    k = rng.integers(per[0], per[1], n_pat)
    patients = np.repeat(np.arange(n_pat), k)
    y = np.repeat((rng.random(n_pat) < 0.35).astype(int), k)
    if mixed:  # a few patients with an AFF on one side and a typical fracture on the other
        first = np.flatnonzero(np.r_[True, np.diff(patients) != 0])
        y[first[:4]] = 1 - y[first[:4]]
    effect = np.repeat(rng.normal(0, 1, n_pat), k)
    s = np.round(1.2 * y + np.sqrt(rho) * effect + np.sqrt(1 - rho) * rng.normal(0, 1, len(y)), 1)
    return y, s, patients


def test_matches_the_formula_written_out_with_ties_and_mixed_patients():
    y, s, patients = _clustered_data()
    aucs, cov = obuchowski_covariance(y, s[None, :], patients)
    theta, var = _brute(y, s, patients)
    assert aucs[0] == pytest.approx(theta, abs=1e-12) and cov[0, 0] == pytest.approx(var, rel=1e-10)


def test_one_image_per_patient_is_delong():
    rng = np.random.default_rng(1)
    y = (rng.random(80) < 0.3).astype(int)
    a, b = rng.normal(y, 1), rng.normal(y, 1.5)
    _, cov = obuchowski_covariance(y, np.vstack([a, b]), np.arange(80))
    _, ref = delong_covariance(y, np.vstack([a, b]))
    assert cov == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_k_identical_images_per_patient_give_the_patient_level_se(k):
    rng = np.random.default_rng(k)
    y = (rng.random(50) < 0.4).astype(int)
    a, b = np.round(rng.normal(y, 1), 1), np.round(rng.normal(0.7 * y, 1), 1)
    rep = lambda v: np.repeat(v, k)  # noqa: E731
    patients = rep(np.arange(50))
    image = clustered_auc_ci(rep(y), rep(a), patients)
    patient = delong_ci(y, a)
    assert image.auc == pytest.approx(patient.auc) and image.se == pytest.approx(patient.se, rel=1e-10)
    naive = delong_ci(rep(y), rep(a))
    assert naive.se < image.se  # images treated as independent: too narrow
    t_img, t_pat = clustered_auc_test(rep(y), rep(a), rep(b), patients), delong_test(y, a, b)
    assert t_img.se == pytest.approx(t_pat.se, rel=1e-10) and t_img.p_value == pytest.approx(t_pat.p_value)


def test_simulation_clustered_se_matches_the_spread_delong_underestimates():
    aucs, se_c, se_d = [], [], []
    for rep in range(300):
        y, s, patients = _clustered_data(n_pat=50, seed=1000 + rep, per=(2, 6), rho=0.8, mixed=False)
        c = clustered_auc_ci(y, s, patients)
        aucs.append(c.auc)
        se_c.append(c.se)
        se_d.append(delong_ci(y, s).se)
    spread = np.std(aucs, ddof=1)
    assert 0.85 < np.mean(se_c) / spread < 1.15
    assert np.mean(se_d) / spread < 0.85


def test_delong_warns_on_repeated_patients_only():
    y, s, patients = _clustered_data()
    with pytest.warns(RepeatedPatientsWarning, match="patients have more than one image"):
        delong_ci(y, s, patients=patients)
    with pytest.warns(RepeatedPatientsWarning, match="DeLong's test"):
        delong_test(y, s, s[::-1], patients=patients)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        delong_ci(y, s, patients=np.arange(len(y)))
        delong_ci(y, s)


def test_refuses_too_few_patients():
    with pytest.raises(ValueError, match="at least 2 patients with AFF images"):
        obuchowski_covariance([1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2], ["a", "a", "b", "c"])
