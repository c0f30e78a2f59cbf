"""What each job kind runs. A runner gets the job, the open project and its run folder.

``train`` is registered here; ``explain`` by :mod:`engine.explain`, ``predict`` and ``refit`` by
:mod:`engine.final` (above jobs in the layers).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.jobs._queue import Job
    from engine.store import Project

# runner(job, project, run_dir, should_stop, device, progress) -> final state
# ("finished" or "cancelled"); progress(event) sees each event the job writes, or is None.
Runner = Callable[["Job", "Project", Path, Callable[[], bool], str, Callable[[dict], None] | None], str]
_KINDS: dict[str, Runner] = {}


def register_job_kind(kind: str, runner: Runner) -> None:
    _KINDS[kind] = runner


# kinds whose runner a package above jobs registers when imported (kept as text: jobs sits below it)
_PROVIDERS = {
    "explain": "engine.explain._experiment",
    "predict": "engine.final._predict",
    "refit": "engine.final._refit",
}


def runner_for(kind: str) -> Runner:
    if kind not in _KINDS and kind in _PROVIDERS:
        importlib.import_module(_PROVIDERS[kind])
    if kind not in _KINDS:
        raise KeyError(f"unknown job kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[kind]


def _run_train(job, project, run_dir, should_stop, device, progress=None) -> str:
    from engine.train import RunSpec, train_run

    spec = RunSpec.from_json(job.spec)
    if device and spec.device == "auto":
        import dataclasses

        spec = dataclasses.replace(spec, device=device)
    if spec.tune_trials:  # equal-budget tuning on inner folds first (engine.tune), resumable
        from engine.tune import run_tuning

        spec = run_tuning(spec, run_dir, should_stop, progress)
        if spec is None:
            return "cancelled"
    try:
        result = train_run(spec, run_dir, should_stop=should_stop, progress=progress)
    finally:
        _release_gpu_cache()
    return "cancelled" if result.state == "cancelled" else "finished"


def _release_gpu_cache() -> None:
    """Give the finished run's cached GPU blocks back, so the device's free memory (which workers
    sharing it check before a claim) shows what this idle worker really holds."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


register_job_kind("train", _run_train)
