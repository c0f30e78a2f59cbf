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
    assert [quad.kappa, quad.se, quad.ci_low, quad.ci_high] == pytest.approx(rows["weighted"][i], abs=1e-8)
