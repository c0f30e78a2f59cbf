"""Agreement with R: pROC (AUC, DeLong CI, paired and unpaired roc.test), mcnemar.test, binom.test, p.adjust.

R runs once for the whole module: every data set is written to CSV, one script
computes everything and prints ``key,index,values...`` lines that the tests parse.
Skipped (with the reason) where Rscript or pROC is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import (
    delong_ci,
    delong_test,
    delong_test_unpaired,
    holm_adjust,
    mcnemar_test,
    partial_auc,
    roc_auc,
)
from tests.engine._proc import parse_rows, run_r, why_no_proc

pytestmark = pytest.mark.skipif(why_no_proc() is not None, reason=str(why_no_proc()))

N_SETS = 20

_SCRIPT = r"""
f <- function(...) cat(paste(c(...), collapse = ","), "\n", sep = "")
g <- function(x) sprintf("%.17g", x)
for (i in 0:(N_SETS - 1)) {
  d <- read.csv(sprintf("paired_%02d.csv", i))
  u <- read.csv(sprintf("other_%02d.csv", i))
  ra <- roc(d$y, d$a, levels = c(0, 1), direction = "<", quiet = TRUE)
  rb <- roc(d$y, d$b, levels = c(0, 1), direction = "<", quiet = TRUE)
  ru <- roc(u$y, u$s, levels = c(0, 1), direction = "<", quiet = TRUE)
  ca <- ci.auc(ra, method = "delong"); cb <- ci.auc(rb, method = "delong")
  f("auc", i, g(c(auc(ra), auc(rb), auc(ru))))
  f("ci", i, g(c(ca[1], ca[3], cb[1], cb[3])))
  t <- roc.test(ra, rb, method = "delong", paired = TRUE)
  f("paired", i, g(c(t$statistic, t$p.value, t$conf.int[1], t$conf.int[2])))
  t <- suppressWarnings(roc.test(ra, ru, method = "delong", paired = FALSE))
  f("unpaired", i, g(c(t$statistic, t$parameter, t$p.value)))
  pa <- function(r, correct, focus = "sensitivity")
    as.numeric(auc(r, partial.auc = c(1, .9), partial.auc.focus = focus, partial.auc.correct = correct))
  f("pauc", i, g(c(pa(ra, FALSE), pa(ra, TRUE), pa(rb, FALSE), pa(rb, TRUE), pa(ru, FALSE), pa(ru, TRUE))))
  f("pauc_sp", i, g(c(pa(ra, FALSE, "specificity"), pa(ra, TRUE, "specificity"))))
}
m <- read.csv("mcnemar.csv")
for (i in seq_len(nrow(m))) {
  b <- m$b[i]; c <- m$c[i]
  t <- mcnemar.test(matrix(c(10, c, b, 10), 2))
  f("mcnemar", i - 1, g(c(t$statistic, t$p.value, binom.test(b, b + c, 0.5)$p.value)))
}
h <- read.csv("holm.csv")
for (k in unique(h$set)) f("holm", k, g(p.adjust(h$p[h$set == k], method = "holm")))
"""


def _paired_set(rng: np.random.Generator, i: int):
    """Two correlated, integer-rounded (hence tied) score vectors on the same cases."""
    n = int(rng.integers(20, 160))
    y = (rng.random(n) < rng.uniform(0.2, 0.5)).astype(int)
    y[:2], y[2:4] = 1, 0  # DeLong needs two cases of each class
    latent = rng.normal(y * rng.uniform(0.0, 1.5), 1.0)
    scale = [1, 2, 4, 10][i % 4]
    a = np.round(scale * latent)
    b = np.round(scale * (latent + rng.normal(0, rng.uniform(0.3, 1.5), n)))
    if i == N_SETS - 1:
        b = a.copy()  # identical curves: pROC sets Z = 0, p = 1
    return y, a, b


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    """Our results and R's for every data set, from one Rscript run."""
    work = tmp_path_factory.mktemp("proc")
    rng = np.random.default_rng(20240601)
    sets = []
    for i in range(N_SETS):
        y, a, b = _paired_set(rng, i)
        yu, su, _ = _paired_set(rng, i + 1)
        np.savetxt(work / f"paired_{i:02d}.csv", np.column_stack([y, a, b]), delimiter=",",
                   header="y,a,b", comments="", fmt="%g")
        np.savetxt(work / f"other_{i:02d}.csv", np.column_stack([yu, su]), delimiter=",",
                   header="y,s", comments="", fmt="%g")
        sets.append((y, a, b, yu, su))
    tables = [(3, 9), (0, 5), (7, 7), (12, 30), (40, 25), (1, 0), (18, 6), (100, 80)]
    np.savetxt(work / "mcnemar.csv", np.array(tables), delimiter=",", header="b,c", comments="", fmt="%d")
    p_sets = [rng.uniform(0, 0.2, size=int(rng.integers(2, 12))) for _ in range(10)]
    p_sets.append(np.array([0.01, 0.04, 0.03, 0.005, 0.5]))
    p_sets.append(np.array([0.02, 0.02, 0.02]))  # ties
    holm_rows = [(k, p) for k, ps in enumerate(p_sets) for p in ps]
    np.savetxt(work / "holm.csv", np.array(holm_rows), delimiter=",", header="set,p", comments="",
               fmt=["%d", "%.17g"])
    r = parse_rows(run_r(_SCRIPT.replace("N_SETS", str(N_SETS)), work))
    assert len(r.get("auc", {})) == N_SETS, "R printed fewer results than data sets"
    return {"sets": sets, "tables": tables, "p_sets": p_sets, "r": r}


def test_auc_matches_proc(agreement):
    worst = 0.0
    for i, (y, a, b, yu, su) in enumerate(agreement["sets"]):
        r_auc = agreement["r"]["auc"][i]
        ours = [roc_auc(y, a), roc_auc(y, b), roc_auc(yu, su)]
        worst = max(worst, float(np.max(np.abs(np.subtract(ours, r_auc)))))
    assert worst < 1e-6, f"largest AUC difference {worst:.3g}"


def test_delong_ci_matches_proc(agreement):
    worst = 0.0
    for i, (y, a, b, _, _) in enumerate(agreement["sets"]):
        ca, cb = delong_ci(y, a), delong_ci(y, b)
        ours = [ca.ci_low, ca.ci_high, cb.ci_low, cb.ci_high]
        worst = max(worst, float(np.max(np.abs(np.subtract(ours, agreement["r"]["ci"][i])))))
    assert worst < 1e-6, f"largest CI bound difference {worst:.3g}"


def test_paired_roc_test_matches_proc(agreement):
    worst_z = worst_p = worst_ci = 0.0
    for i, (y, a, b, _, _) in enumerate(agreement["sets"]):
        z, p, low, high = agreement["r"]["paired"][i]
        t = delong_test(y, a, b)
        worst_z = max(worst_z, abs(t.statistic - z))
        worst_p = max(worst_p, abs(t.p_value - p))
        worst_ci = max(worst_ci, abs(t.ci_low - low), abs(t.ci_high - high))
    assert worst_z < 1e-6, f"largest Z difference {worst_z:.3g}"
    assert worst_p < 1e-4, f"largest p difference {worst_p:.3g}"
    assert worst_ci < 1e-6, f"largest difference-CI bound difference {worst_ci:.3g}"


def test_identical_curves_give_z_0_p_1_as_proc(agreement):
    y, a, b, _, _ = agreement["sets"][-1]
    t = delong_test(y, a, b)
    assert (t.statistic, t.p_value) == (0.0, 1.0)
    assert agreement["r"]["paired"][N_SETS - 1][:2] == [0.0, 1.0]


def test_unpaired_roc_test_matches_proc(agreement):
    worst_d = worst_df = worst_p = 0.0
    for i, (y, a, _, yu, su) in enumerate(agreement["sets"]):
        d, df, p = agreement["r"]["unpaired"][i]
        t = delong_test_unpaired(y, a, yu, su)
        worst_d = max(worst_d, abs(t.statistic - d))
        worst_df = max(worst_df, abs(t.df - df) / df)
        worst_p = max(worst_p, abs(t.p_value - p))
    assert worst_d < 1e-6, f"largest D difference {worst_d:.3g}"
    assert worst_df < 1e-6, f"largest relative df difference {worst_df:.3g}"
    assert worst_p < 1e-4, f"largest p difference {worst_p:.3g}"


def test_partial_auc_matches_proc(agreement):
    """pAUC over sensitivity 0.9-1 (and specificity 0.9-1), raw and McClish-corrected, as pROC's ``auc``."""
    worst, below = 0.0, 0
    for i, (y, a, b, yu, su) in enumerate(agreement["sets"]):
        r = agreement["r"]["pauc"][i] + agreement["r"]["pauc_sp"][i]
        ours = []
        for yy, s, focus in ((y, a, "sensitivity"), (y, b, "sensitivity"), (yu, su, "sensitivity"),
                             (y, a, "specificity")):
            p = partial_auc(yy, s, focus=focus)
            ours += [p.raw, p.standardised]
        for k in range(0, len(r), 2):
            worst = max(worst, abs(ours[k] - r[k]))
            if np.isnan(r[k + 1]):  # pROC: correction undefined below the diagonal
                below += 1
                assert ours[k + 1] < 0.5
            else:
                worst = max(worst, abs(ours[k + 1] - r[k + 1]))
    assert worst < 1e-9, f"largest pAUC difference {worst:.3g}"
    assert below < 4 * N_SETS / 2, "most pAUCs should be above the diagonal"


def test_mcnemar_matches_r(agreement):
    for i, (b, c) in enumerate(agreement["tables"]):
        stat, p_chi2, p_binom = agreement["r"]["mcnemar"][i]
        correct_a = np.r_[np.ones(b + 10, bool), np.zeros(c + 10, bool)]
        correct_b = np.r_[np.zeros(b, bool), np.ones(10 + c, bool), np.zeros(10, bool)]
        t = mcnemar_test(correct_a, correct_b)
        assert (t.b, t.c) == (b, c)
        assert t.statistic == pytest.approx(stat, abs=1e-9)
        assert t.p_chi2 == pytest.approx(p_chi2, abs=1e-9)
        assert t.p_exact == pytest.approx(p_binom, abs=1e-9)


def test_holm_matches_p_adjust(agreement):
    for k, ps in enumerate(agreement["p_sets"]):
        np.testing.assert_allclose(holm_adjust(ps), agreement["r"]["holm"][k], rtol=0, atol=1e-12)
