"""Cohen's kappa and weighted kappa (with their CIs) against R's ``psych::cohen.kappa``.

R runs once: every pair of ratings is written to CSV and one script prints
``key,index,values...`` lines. Skipped (with the reason) where Rscript or psych is missing
(Debian: ``apt-get install r-base-core r-cran-psych``).
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np
import pytest

from engine.evaluate import cohen_kappa
from tests.engine._proc import parse_rows

N_SETS = 15


@functools.lru_cache(maxsize=1)
def why_no_psych() -> str | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not on PATH (Debian: apt-get install r-base-core r-cran-psych)"
    out = subprocess.run([rscript, "-e", "suppressMessages(library(psych)); cat('ok')"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or not out.stdout.endswith("ok"):
        return f"R's psych package does not load (apt-get install r-cran-psych): {out.stderr[-300:]}"
    return None


pytestmark = pytest.mark.skipif(why_no_psych() is not None, reason=str(why_no_psych()))

_SCRIPT = r"""
suppressMessages(library(psych))
f <- function(...) cat(paste(c(...), collapse = ","), "\n", sep = "")
g <- function(x) sprintf("%.17g", x)
for (i in 0:(N_SETS - 1)) {
  d <- read.csv(sprintf("pair_%02d.csv", i))
  k <- cohen.kappa(d[, c("a", "b")], levels = 0:(d$k[1] - 1))
  f("kappa", i, g(c(k$kappa, sqrt(k$var.kappa), k$confid[1, 1], k$confid[1, 3])))
  f("weighted", i, g(c(k$weighted.kappa, sqrt(k$var.weighted), k$confid[2, 1], k$confid[2, 3])))
}
"""


@pytest.fixture(scope="module")
def r_out(tmp_path_factory):
    work = tmp_path_factory.mktemp("psych")
    sets = []
    for i in range(N_SETS):
        rng = np.random.default_rng(i)
        n, k = int(rng.integers(30, 300)), int(rng.integers(2, 6))
        a = rng.integers(0, k, n)
        b = np.where(rng.random(n) < rng.uniform(0.2, 0.9), a, rng.integers(0, k, n))
        sets.append((a, b, k))
        lines = ["a,b,k"] + [f"{x},{y},{k}" for x, y in zip(a, b, strict=True)]
        (work / f"pair_{i:02d}.csv").write_text("\n".join(lines) + "\n")
    script = work / "psych.R"
    script.write_text(_SCRIPT.replace("N_SETS", str(N_SETS)))
    out = subprocess.run([shutil.which("Rscript"), "--vanilla", str(script)], cwd=work,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return sets, parse_rows(out.stdout)


@pytest.mark.parametrize("i", range(N_SETS))
def test_cohen_kappa_matches_psych(r_out, i):
    sets, rows = r_out
    a, b, k = sets[i]
    cats = tuple(range(k))
    plain = cohen_kappa(a, b, categories=cats)
    quad = cohen_kappa(a, b, categories=cats, weights="quadratic")  # psych's default weights
    assert [plain.kappa, plain.se, plain.ci_low, plain.ci_high] == pytest.approx(rows["kappa"][i], abs=1e-8)
    psych_wkappa, psych_wse = rows["weighted"][i][0], rows["weighted"][i][1]
    assert quad.kappa == pytest.approx(psych_wkappa, abs=1e-10)
    # psych's weighted-kappa variance differs from Fleiss, Cohen & Everitt (1969), which ours and
    # statsmodels follow (test_evaluate_agreement.py): psych::cohen.kappa1 builds the row term as
    # rowSums(w * rs), i.e. r_i * sum_j w_ij, where FCE has sum_j w_ij r_j. Reproducing exactly
    # that expression gives psych's SE, so the two differ by that term and nothing else.
    assert _psych_weighted_se(a, b, k) == pytest.approx(psych_wse, abs=1e-10)
    assert quad.se == pytest.approx(_fce_weighted_se(a, b, k), abs=1e-12)


def _tables(a, b, k):
    x = np.zeros((k, k))
    np.add.at(x, (a, b), 1.0)
    n = x.sum()
    p = x / n
    i, j = np.indices((k, k))
    w = 1 - (i - j) ** 2 / (k - 1) ** 2  # quadratic agreement weights (psych's default)
    r, c = p.sum(1), p.sum(0)
    return n, p, w, r, c, (w * p).sum(), (w * np.outer(r, c)).sum()


def _variance(n, p, w, row_term, col_term, po, pe):
    inner = w * (1 - pe) - (row_term[:, None] + col_term[None, :]) * (1 - po)
    return ((p * inner ** 2).sum() - (po * pe - 2 * pe + po) ** 2) / (n * (1 - pe) ** 4)


def _fce_weighted_se(a, b, k):
    n, p, w, r, c, po, pe = _tables(a, b, k)
    return float(np.sqrt(_variance(n, p, w, w @ c, r @ w, po, pe)))


def _psych_weighted_se(a, b, k):
    n, p, w, r, c, po, pe = _tables(a, b, k)
    colw = (w * c[:, None]).sum(0)  # colSums(w * cs): R recycles cs down the columns
    roww = (w * r[:, None]).sum(1)  # rowSums(w * rs) = r_i * sum_j w_ij
    return float(np.sqrt(_variance(n, p, w, colw, roww, po, pe)))
