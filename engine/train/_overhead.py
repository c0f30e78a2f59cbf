"""Where a fold's wall time goes: training steps versus everything else (issue 20).

A run's session is one timeline. :class:`PhaseClock` charges every moment of it to exactly
one part: the innermost phase open at that moment (exclusive time, so an ``events`` phase
inside ``checkpoints`` is not counted twice), or ``other`` when none is open. The parts
therefore add up to the wall time by construction, and ``other`` shows what no phase
covers (it stays near zero when the run wraps all its work).

``overhead_share`` = 1 - ``steps`` / ``wall``: everything that is not a steady training
step, the compile (and cuDNN) warm-up of the session's first step included.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

# setup: spec resolution, model construction; data: fold + images onto the device;
# warmup: the session's first optimiser step (torch.compile, cuDNN autotuning);
# steps: every other optimiser step (augmentation and the step itself);
# validation: the per-epoch validation pass; checkpoints: best.pt / last.pt (load and save);
# events: writing events.jsonl (progress, metric, artifact ...); outputs: config, compute
# figures (FLOPs, latency), predictions.
PARTS = ("setup", "data", "warmup", "steps", "validation", "checkpoints", "events", "outputs")


class PhaseClock:
    """Exclusive time per named phase since construction; see the module docstring."""

    def __init__(self, now: Callable[[], float] = time.perf_counter):
        self._now = now
        self.t0 = now()
        self.parts = dict.fromkeys(PARTS, 0.0)
        self._stack: list[str] = []
        self._mark = self.t0

    def _charge(self) -> None:
        """Give the time since the last switch to the phase open now (none open: ``other``)."""
        now = self._now()
        if self._stack:
            self.parts[self._stack[-1]] += now - self._mark
        self._mark = now

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in self.parts:
            raise ValueError(f"unknown phase {name!r}: one of {', '.join(PARTS)}")
        self._charge()
        self._stack.append(name)
        try:
            yield
        finally:
            self._charge()
            self._stack.pop()

    def summary(self) -> dict:
        """``wall_s``, each part's seconds (``other`` included; they sum to ``wall_s``), and
        ``overhead_share`` = 1 - steps / wall."""
        self._charge()
        wall = self._mark - self.t0
        parts = {k: round(v, 6) for k, v in self.parts.items()}
        parts["other"] = round(wall - sum(self.parts.values()), 6)
        share = 1.0 - self.parts["steps"] / wall if wall > 0 else 0.0
        return {"wall_s": round(wall, 6), "parts_s": parts, "overhead_share": share,
                "definition": "1 - steps_s / wall_s of this session (warm-up counts as overhead)"}


class NoClock:
    """A :class:`PhaseClock` stand-in that measures nothing (a Trainer used on its own)."""

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        yield
