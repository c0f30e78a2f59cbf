"""TaskRunner.submit(key=...): the newest task of a key wins; an older one's callbacks never run."""

from __future__ import annotations

import threading

from affgui.tasks import TaskRunner


def test_a_newer_task_with_the_same_key_supersedes_the_older(qtbot):
    runner = TaskRunner(max_threads=2)
    release = threading.Event()
    got, failed = [], []

    def slow(progress):
        release.wait(5)
        progress("x", 1, 1)  # raises Cancelled once superseded
        return "old"

    first = runner.submit(slow, done=got.append, failed=failed.append, key="image")
    second = runner.submit(lambda _p: "new", done=got.append, key="image")
    other = runner.submit(lambda _p: "other key", done=got.append, key="rows")
    assert runner.current("image") == second and first != second and other
    qtbot.waitUntil(lambda: "new" in got and "other key" in got, timeout=5000)
    release.set()
    assert runner.wait(5000)
    qtbot.wait(50)
    assert sorted(got) == ["new", "other key"] and failed == []  # nothing from the superseded task
    assert runner.current("image") is None and not runner.is_running()
    runner.shutdown()


def test_supersede_drops_a_task_without_starting_another(qtbot):
    runner = TaskRunner(max_threads=1)
    release = threading.Event()
    got = []
    runner.submit(lambda _p: release.wait(5) or "late", done=got.append, key="poll")
    runner.supersede("poll")
    release.set()
    assert runner.wait(5000)
    qtbot.wait(50)
    assert got == [] and runner.current("poll") is None
    runner.shutdown()


def test_a_superseded_task_that_fails_reports_nothing(qtbot):
    """Neither ``done`` nor ``failed`` of a superseded task runs, whether it raises or returns."""
    runner = TaskRunner(max_threads=2)
    release = threading.Event()
    done, failed = [], []

    def broken(_progress):  # never asks for progress, so it is not cancelled: it fails late
        release.wait(5)
        raise ValueError("the old project's file is gone")

    runner.submit(broken, done=done.append, failed=failed.append, key="list")
    runner.submit(lambda _p: "current", done=done.append, failed=failed.append, key="list")
    qtbot.waitUntil(lambda: done == ["current"], timeout=5000)
    release.set()
    assert runner.wait(5000)
    qtbot.wait(50)  # the superseded task's failure has been delivered, and dropped
    assert done == ["current"] and failed == []
    runner.shutdown()


def test_supersede_all_drops_every_task_keyed_or_not(qtbot):
    """A project change: every read of the old project is cancelled and reports nothing."""
    runner = TaskRunner(max_threads=3)
    started, release = threading.Semaphore(0), threading.Event()
    done, failed, stopped = [], [], []

    def read(name, fail=False):
        def fn(progress):
            started.release()
            release.wait(5)
            try:
                progress("read", 0, 1)  # the superseded task stops here
            except BaseException as exc:
                stopped.append((name, type(exc).__name__))
                raise
            if fail:
                raise OSError(name)
            return name
        return fn

    runner.submit(read("pixels"), done=done.append, failed=failed.append)
    runner.submit(read("maps", fail=True), done=done.append, failed=failed.append)
    runner.submit(read("names"), done=done.append, failed=failed.append, key="names")
    for _ in range(3):
        assert started.acquire(timeout=5)
    runner.supersede_all()
    assert runner.current("names") is None
    release.set()
    assert runner.wait(5000)
    qtbot.wait(50)
    assert done == [] and failed == []  # nothing of the old project reached a callback
    assert sorted(stopped) == [("maps", "Cancelled"), ("names", "Cancelled"), ("pixels", "Cancelled")]
    assert not runner.is_running()

    # the runner goes on: the new project's reads (a key reused included) report as usual
    runner.submit(lambda _p: "new names", done=done.append, key="names")
    runner.submit(lambda _p: 1 / 0, failed=failed.append)
    qtbot.waitUntil(lambda: done == ["new names"] and len(failed) == 1, timeout=5000)
    assert isinstance(failed[0], ZeroDivisionError)
    runner.shutdown()


def test_waiting_tasks_start_highest_priority_first(qtbot):
    runner = TaskRunner(max_threads=1)
    release = threading.Event()
    order = []
    runner.submit(lambda _p: release.wait(5))  # holds the one thread
    for name, priority in (("scrolled past", 0), ("on screen", 10), ("between", 5)):
        runner.submit(lambda _p, n=name: order.append(n), priority=priority)
    release.set()
    assert runner.wait(5000)
    assert order == ["on screen", "between", "scrolled past"]
    runner.shutdown()


def test_progress_without_a_listener_still_cancels(qtbot):
    """A task submitted without ``progress`` sends no reports, but ``progress`` still cancels."""
    runner = TaskRunner(max_threads=1)
    started, release = threading.Event(), threading.Event()
    calls, got, failed = [], [], []

    def loop(progress):
        started.set()
        release.wait(5)
        for k in range(1000):
            progress("loop", k, 1000)
            calls.append(k)
        return "ran to the end"

    task = runner.submit(loop, done=got.append, failed=failed.append)
    assert started.wait(5)
    runner.cancel(task)
    release.set()
    assert runner.wait(5000)
    qtbot.waitUntil(lambda: len(failed) == 1, timeout=5000)
    assert calls == [] and got == [] and type(failed[0]).__name__ == "Cancelled"
    runner.shutdown()
