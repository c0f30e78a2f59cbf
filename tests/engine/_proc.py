"""Run R scripts with pROC for the agreement tests; skip cleanly where R or pROC is missing."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

R_TIMEOUT_S = 600


@functools.lru_cache(maxsize=1)
def why_no_proc() -> str | None:
    """None when ``Rscript`` runs and ``library(pROC)`` loads, else the reason to skip."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not on PATH (Debian: apt-get install r-base-core r-cran-proc)"
    try:
        out = subprocess.run([rscript, "-e", "suppressMessages(library(pROC)); cat('ok')"],
                             capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "Rscript did not answer within 120 s"
    if out.returncode != 0 or not out.stdout.endswith("ok"):
        return f"R's pROC package does not load (Debian: apt-get install r-cran-proc): {out.stderr[-300:]}"
    return None


def run_r(script: str, workdir: Path) -> str:
    """Run ``script`` with Rscript in ``workdir`` (pROC loaded first) and return its standard output."""
    path = Path(workdir) / "agreement.R"
    path.write_text("suppressMessages(library(pROC))\n" + script, encoding="utf-8")
    out = subprocess.run([shutil.which("Rscript"), "--vanilla", str(path)], cwd=workdir,
                         capture_output=True, text=True, timeout=R_TIMEOUT_S)
    if out.returncode != 0:
        raise RuntimeError(f"Rscript failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.stdout


def parse_rows(stdout: str) -> dict[str, dict[int, list[float]]]:
    """Lines ``key,index,v1,v2,...`` into ``{key: {index: [v1, v2, ...]}}`` (R's NA becomes NaN)."""
    rows: dict[str, dict[int, list[float]]] = {}
    for line in stdout.splitlines():
        parts = line.strip().split(",")
        if len(parts) < 3:
            continue
        values = [float("nan") if v in ("NA", "NaN") else float(v) for v in parts[2:]]
        rows.setdefault(parts[0], {})[int(parts[1])] = values
    return rows
