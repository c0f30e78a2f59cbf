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
