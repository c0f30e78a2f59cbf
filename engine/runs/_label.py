"""The one way a run is named to a person: ``r<repeat>f<fold>s<seed>``."""

from __future__ import annotations


def run_label(repeat: int | None = None, fold: int | None = None, seed: int | None = None) -> str:
    """``r0f2s0`` for repeat 0, fold 2, seed 0; a missing repeat or seed (older runs) reads as 0.

    A job that belongs to no fold (an explain or refit job) has no fold part: ``r0s0`` is
    never shown for it; callers show the job kind instead, so ``fold=None`` returns ``""``.
    """
    if fold is None:
        return ""
    return f"r{int(repeat or 0)}f{int(fold)}s{int(seed or 0)}"
