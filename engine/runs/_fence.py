"""Fencing a run folder: writes from a worker that lost its job are refused.

A worker holds a job through a *claim token* (``jobs.claim_token``, raised at every claim).
While it runs the job it registers a check with :func:`fence`; every
:class:`~engine.runs.EventWriter` for that folder calls it before it writes a line, and the
worker's ``should_stop`` raises through it too. When another worker has taken the job over
(the folder's ``.owner`` names a newer token, or the database says so), the check raises
:class:`RunFenced` and nothing more reaches the folder.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.errors import EngineError


class RunFenced(EngineError):
    """This process no longer owns the run folder it was about to write (see :func:`fence`)."""


# resolved run folder -> check() returning None (still the owner) or the reason it is not
_CHECKS: dict[str, Callable[[], str | None]] = {}
_LOCK = threading.Lock()


def _key(run_dir: str | Path) -> str:
    return os.path.realpath(run_dir)


@contextlib.contextmanager
def fence(run_dir: str | Path, check: Callable[[], str | None]) -> Iterator[None]:
    """While inside, every event written to ``run_dir`` first asks ``check()``."""
    key = _key(run_dir)
    with _LOCK:
        _CHECKS[key] = check
    try:
        yield
    finally:
        with _LOCK:
            if _CHECKS.get(key) is check:
                del _CHECKS[key]


def check_fence(run_dir: str | Path, key: str | None = None) -> None:
    """Raise :class:`RunFenced` when ``run_dir`` is fenced and its owner has lost it."""
    check = _CHECKS.get(key or _key(run_dir))
    if check is not None and (why := check()) is not None:
        raise RunFenced(f"{run_dir}: not written: {why}")


def fence_key(run_dir: str | Path) -> str:
    return _key(run_dir)
