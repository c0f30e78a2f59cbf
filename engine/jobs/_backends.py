"""Where jobs run: a registry of backends and what each does on cancel.

``local`` jobs are claimed by :class:`~engine.jobs.Worker` processes; other backends
(``slurm``: :mod:`engine.slurm`) register themselves with :func:`register_backend` when
their package is imported. ``engine.jobs`` sits below them and never imports them by name:
a backend that has not been imported yet is loaded through the module named here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import InvalidInput

# backend -> the module whose import registers it (kept as text: jobs does not depend on it)
_PROVIDERS = {"slurm": "engine.slurm"}


def _worker_hint(project: str) -> str:
    return f"run it with: affengine worker {project}"


@dataclass(frozen=True)
class Backend:
    name: str
    # cancel(project, job_id, grace_s) -> the job's state afterwards
    cancel: Callable[..., str]
    # run_hint(project path) -> what the user does next with a job queued here (one line)
    run_hint: Callable[[str], str] = _worker_hint
    where: str = ""  # " for Slurm": how a "queued ... job N" line names this backend


_REGISTRY: dict[str, Backend] = {}


def register_backend(name: str, *, cancel: Callable[..., str],
                     run_hint: Callable[[str], str] = _worker_hint, where: str = "") -> None:
    """Register backend ``name``: ``cancel(project, job_id, grace_s)`` cancels one of its jobs;
    ``run_hint(project)`` says in one line how a job queued on it gets run (and its results in)."""
    _REGISTRY[name] = Backend(name, cancel, run_hint, where)


def backend(name: str) -> Backend:
    """The registered backend ``name`` (importing its provider on first use)."""
    if name not in _REGISTRY and name in _PROVIDERS:
        importlib.import_module(_PROVIDERS[name])
    if name not in _REGISTRY:
        raise InvalidInput(f"unknown backend {name!r} (known: {', '.join(sorted(_REGISTRY)) or 'none'})")
    return _REGISTRY[name]
