"""``RunFolder``: the one place that knows a run folder's layout (``runs/<run-id>/``).

::

    runs/<run-id>/
        events.jsonl        events (engine.runs.EventWriter)
        config.json         the resolved spec of a training run
        metrics.json        per-epoch history and final figures
        predictions.csv     out-of-fold predictions
        checkpoints/        last.pt (resume), best.pt
        heatmaps/           <method>.npz + <method>.json (engine.explain)
        error.txt           the traceback of a failed job (its one-line reason is the job's error)
        slurm/              job.json, job.sbatch, status.json, Slurm logs (engine.slurm)
        .owner              the claim token of the worker that holds the job (fencing)

The run id is checked with :func:`~engine.runs.safe_name` whenever a folder is made from it,
and the folder must lie inside ``runs/``: a crafted database cannot send a worker elsewhere.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import InvalidInput
from engine.runs._names import safe_name

EVENTS = "events.jsonl"
CONFIG = "config.json"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
CHECKPOINTS = "checkpoints"
HEATMAPS = "heatmaps"
ERROR = "error.txt"
SLURM = "slurm"
OWNER = ".owner"


class RunFolder:
    """The folder of run ``run_id`` under ``runs_dir`` (a project's ``runs/``)."""

    # the file names, for code that only has a run folder's path
    EVENTS, CONFIG, METRICS, PREDICTIONS = EVENTS, CONFIG, METRICS, PREDICTIONS
    CHECKPOINTS, LAST, BEST = CHECKPOINTS, f"{CHECKPOINTS}/last.pt", f"{CHECKPOINTS}/best.pt"
    HEATMAPS, ERROR, SLURM, OWNER = HEATMAPS, ERROR, SLURM, OWNER

    def __init__(self, runs_dir: str | Path, run_id: str):
        self.run_id = safe_name(run_id, "run id")
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / self.run_id
        if self.path.is_symlink() or (self.path.exists()
                                      and self.path.resolve().parent != self.runs_dir.resolve()):
            raise InvalidInput(f"run folder {self.path}: is a link out of {self.runs_dir}; "
                               "refusing to use it")

    @classmethod
    def of(cls, project, run_id: str) -> RunFolder:
        """The run folder of ``run_id`` in ``project`` (an :class:`engine.store.Project`)."""
        return cls(project.runs_dir, run_id)

    @classmethod
    def at(cls, path: str | Path) -> RunFolder:
        """The run folder at ``path`` (its last part is the run id)."""
        path = Path(path)
        return cls(path.parent, path.name)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def create(self) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    # -- the files ---------------------------------------------------------------------
    @property
    def events(self) -> Path:
        return self.path / EVENTS

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def predictions(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.path / self.LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.path / self.BEST

    @property
    def heatmaps(self) -> Path:
        return self.path / HEATMAPS

    def heatmap(self, method: str) -> Path:
        return self.heatmaps / f"{safe_name(method, 'heatmap method')}.npz"

    @property
    def error_file(self) -> Path:
        return self.path / ERROR

    @property
    def slurm(self) -> Path:
        return self.path / SLURM

    # -- fencing -----------------------------------------------------------------------
    def claim(self, token: int) -> None:
        """Record that the holder of claim ``token`` owns the folder now (written atomically)."""
        self.create()
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f"{OWNER}.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(f"{int(token)}\n")
            os.replace(tmp, self.path / OWNER)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def owner_token(self) -> int | None:
        """The claim token last recorded by :meth:`claim` (None when none or unreadable)."""
        try:
            return int((self.path / OWNER).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
