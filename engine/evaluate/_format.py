"""One p-value format for every place a p is shown: CLI, report (text and HTML tables), GUI tables.

Rules: three decimals; never "0.000" (below 0.001 it is "< 0.001"); missing or NaN is
"n/a". CSV and JSON keep the full-precision number; only what a reader sees is formatted.
"""

from __future__ import annotations

import math

P_FLOOR = 0.001


def format_p(p: float | None, label: bool = True) -> str:
    """``p`` for display: ``"p = 0.042"``, ``"p < 0.001"``, ``"p = 1.000"`` (or without ``"p "`` when
    ``label`` is false: ``"0.042"``, ``"< 0.001"``). ``None`` or NaN gives ``"n/a"``."""
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    p = float(p)
    if p < 0 or p > 1:
        raise ValueError(f"a p-value lies in [0, 1], got {p!r}")
    if p < P_FLOOR:
        text = "< 0.001"
    else:
        text = f"{p:.3f}"  # p >= 0.001 never rounds to "0.000"
        if label:
            text = "= " + text
    return f"p {text}" if label else text


def is_p_column(name: str) -> bool:
    """Whether a table column holds a p-value (``p``, ``p_value``, ``p_boot_holm``, ``mcnemar_p``...)."""
    return "p" in name.lower().split("_")
