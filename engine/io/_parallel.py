"""Running import jobs on all cores, in order, surviving a worker that crashes.

Results come back in job order (so duplicate detection is deterministic),
with at most ``2 * workers`` jobs in flight. If a decoder kills its process
(a segfault on a malicious file), the jobs that were in flight are rerun one
at a time in fresh processes, so only the culprit is reported.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from engine.io._worker import Job, Outcome, init_worker, process

CRASHED = "the decoder crashed on this file (its worker process died)"


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _fork_safe() -> bool:
    """No Python thread besides this one, and no OpenCV thread pool (it hangs a forked child)."""
    cv2 = sys.modules.get("cv2")
    if cv2 is not None and cv2.getNumThreads() > 1:
        return False
    return threading.active_count() == 1


def _context():
    # fork starts in milliseconds; it is safe only on Linux in a single-threaded process.
    if sys.platform.startswith("linux") and _fork_safe():
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def run_jobs(jobs: list[Job], workers: int, cache_root: str,
             known: frozenset[str], legacy_sizes: frozenset[int] = frozenset()
             ) -> Iterator[Outcome]:
    """Outcomes of ``jobs`` in order; in this process when ``workers`` is 1."""
    initargs = (cache_root, known, os.getpid(), legacy_sizes)
    if workers <= 1 or len(jobs) <= 1:
        init_worker(cache_root, known, None, legacy_sizes)
        for job in jobs:
            yield process(job)
        return
    todo = deque(jobs)
    while todo:
        inflight: deque = deque()
        pool = ProcessPoolExecutor(min(workers, len(todo)), mp_context=_context(),
                                   initializer=init_worker, initargs=initargs)
        try:
            while todo or inflight:
                try:
                    while todo and len(inflight) < 2 * workers:
                        inflight.append((todo[0], pool.submit(process, todo[0])))
                        todo.popleft()
                    outcome = inflight[0][1].result()
                except BrokenProcessPool:
                    break
                inflight.popleft()
                yield outcome
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if todo and not inflight:  # broke before taking any job: make progress alone
            inflight.append((todo.popleft(), None))
        for job, future in inflight:  # only after a crash
            if future is not None and future.done() and not future.cancelled() \
                    and future.exception() is None:
                yield future.result()
            else:
                yield _alone(job, initargs)


def _alone(job: Job, initargs: tuple) -> Outcome:
    with ProcessPoolExecutor(1, mp_context=_context(), initializer=init_worker,
                             initargs=initargs) as pool:
        try:
            return pool.submit(process, job).result()
        except BrokenProcessPool:
            return Outcome(job.path, error=CRASHED)
