"""The ``explain`` job kind: one experiment, one method, run by a worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store import Project


def explain_job_spec(experiment: str, method: str = "gradcam", batch_size: int = 16) -> dict:
    """The JSON spec of an ``explain`` job (checked here, so a bad one is never queued)."""
    from engine.explain._experiment import methods

    if method not in methods():
        raise ValueError(f"unknown method {method!r} (use one of {', '.join(methods())})")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return {"experiment": experiment, "method": method, "batch_size": int(batch_size)}


def submit_explain(project: Project, experiment: str, method: str = "gradcam",
                   batch_size: int = 16, priority: int = 0) -> int:
    """Queue an ``explain`` job; returns its id.

    The job carries no experiment id, so it never mixes with the experiment's training
    jobs; any worker not filtered to one experiment runs it.
    """
    from engine.jobs import JobQueue, get_experiment

    get_experiment(project, experiment)  # KeyError now rather than in the worker
    spec = explain_job_spec(experiment, method, batch_size)
    return JobQueue(project).submit("explain", spec, priority=priority)


def run_explain_job(spec: dict, project: Project, run_dir: Path, should_stop: Callable[[], bool],
                    device: str, progress: Callable[[dict], None] | None = None) -> str:
    """Run an ``explain`` job spec; its events go to the job's own ``events.jsonl``."""
    from engine.explain._experiment import explain_experiment
    from engine.runs import EventWriter

    device = device if device and device != "auto" else "cpu"
    with EventWriter(Path(run_dir) / "events.jsonl") as events:
        events.emit("started", kind="explain", **spec)

        def relay(event: dict) -> None:
            events.emit("log", message=event["message"])
            if progress is not None:
                progress(event)

        result = explain_experiment(project, spec["experiment"], spec.get("method", "gradcam"),
                                    device, int(spec.get("batch_size", 16)), relay, should_stop)
        for path in result.files:
            events.emit("artifact", path=str(path))
        events.emit(result.state, images=result.images, seconds=round(result.seconds, 3))
    return result.state
