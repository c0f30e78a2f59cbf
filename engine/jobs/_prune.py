"""Free the disk that finished runs no longer need: their resume checkpoints (``last.pt``).

A training run writes ``checkpoints/last.pt`` (model, optimizer state and RNG: about 12
bytes per parameter, ~1 GB for a ViT-B) so that a killed or pre-empted run resumes where it
stopped, and ``checkpoints/best.pt`` (the weights of the best epoch: what predictions, heatmaps,
final models and export read). Once the job has finished, ``last.pt`` is never read again: a
finished job is not retried (:meth:`~engine.jobs.JobQueue.retry` takes failed, cancelled and
interrupted jobs only). A 5 x 5 cross-validation of a ViT-B keeps ~25 GB of them.

:func:`prune_checkpoints` removes ``last.pt`` of every *finished* job whose run folder has
its ``best.pt`` and a finished ``metrics.json``; nothing of a queued, running, failed,
cancelled or interrupted job is touched, nor any other file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from engine.errors import InvalidInput
from engine.jobs._queue import JobQueue
from engine.runs import RunFolder


@dataclasses.dataclass
class PruneReport:
    """What :func:`prune_checkpoints` removed (or, with ``dry_run``, would remove)."""

    files: list[Path] = dataclasses.field(default_factory=list)
    bytes: int = 0
    kept: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (job id, why kept)


def _finished_metrics(folder: RunFolder) -> bool:
    try:
        return json.loads((folder.path / RunFolder.METRICS).read_text()).get("state") == "finished"
    except (OSError, ValueError, AttributeError):
        return False


def prune_checkpoints(project, experiment: str | None = None, dry_run: bool = False) -> PruneReport:
    """Remove the resume checkpoint of each finished run of ``project`` (or of ``experiment``)."""
    queue = JobQueue(project)
    jobs = queue.list(state="finished")
    if experiment is not None:
        rows = project.query("SELECT id FROM experiments WHERE name = ?", (experiment,))
        if not rows:
            raise InvalidInput(f"{project.path}: no experiment named {experiment!r}")
        jobs = [j for j in jobs if j.experiment_id == rows[0][0]]
    report = PruneReport()
    for job in jobs:
        try:
            folder = RunFolder.of(project, job.run_id)
        except InvalidInput as exc:  # a crafted run id or a link out of runs/: never followed
            report.kept.append((job.id, str(exc)))
            continue
        last = folder.path / RunFolder.LAST
        if not last.is_file():
            continue
        if not (folder.path / RunFolder.BEST).is_file() or not _finished_metrics(folder):
            report.kept.append((job.id, f"{folder.path}: no best.pt or no finished metrics.json"))
            continue
        size = last.stat().st_size
        if not dry_run:
            last.unlink()
        report.files.append(last)
        report.bytes += size
    return report
