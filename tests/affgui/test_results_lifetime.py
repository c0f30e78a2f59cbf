"""The Results dock when the project closes while its statistics are being computed."""

from __future__ import annotations

import threading

from affgui.parts.results import _controller
from tests.affgui.conftest import open_in
from tests.affgui.test_results_view import CNN, VIT, study  # noqa: F401 - the fixture

N_BOOT = 50


def _results_shown(qtbot, window, path):
    """Open ``path`` and the Results dock; its controller once the experiments are listed."""
    controller = window.results
    controller.n_boot = N_BOOT
    open_in(qtbot, window, path)
    with qtbot.waitSignal(controller.sigStatusesShown, timeout=10_000):
        controller.dock.show()
    return controller


def test_closing_the_project_mid_compute_neither_waits_nor_shows_stale_results(
        qtbot, window, study, monkeypatch):  # noqa: F811 - the imported fixture
    controller = _results_shown(qtbot, window, study)

    started, release = threading.Event(), threading.Event()
    real = _controller.compute_results

    def slow_compute(*args, **kwargs):  # a long bootstrap: ends only when the test says so
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(_controller, "compute_results", slow_compute)
    shown = []
    controller.sigResultsShown.connect(shown.append)
    controller.page.set_checked([CNN, VIT])
    controller.recompute()
    assert started.wait(10)

    timer = threading.Timer(3.0, release.set)  # a GUI thread that waits sees it end after 3 s
    timer.start()
    window.close_project()  # the GUI thread must not wait for the computation
    closed_before_release = not release.is_set()
    release.set()
    timer.cancel()
    assert closed_before_release
    controller.tasks.wait(30_000)
    qtbot.wait(300)  # the finished computation's callback and any debounce have run

    assert shown == [] and controller.results is None
    assert not controller.page.roc_plot.curves and controller.page.comparison.rowCount() == 0
    assert not controller.page.busy.isVisible()


def test_closing_the_project_mid_listing_does_not_wait_for_it(qtbot, window, study, monkeypatch):  # noqa: F811
    controller = window.results
    open_in(qtbot, window, study)
    started, release = threading.Event(), threading.Event()
    real = _controller.list_status

    def slow_list(project):  # forty experiments' folders and splits
        started.set()
        release.wait(30)
        return real(project)

    monkeypatch.setattr(_controller, "list_status", slow_list)
    shown = []
    controller.sigStatusesShown.connect(shown.append)
    controller.dock.show()
    assert started.wait(10)
    timer = threading.Timer(3.0, release.set)
    timer.start()
    window.close_project()
    closed_before_release = not release.is_set()
    release.set()
    timer.cancel()
    assert closed_before_release
    controller.tasks.wait(30_000)
    qtbot.wait(100)
    assert shown == [] and controller.page.picker.count() == 0


def test_a_superseded_listing_or_computation_that_fails_says_nothing(
        qtbot, window, study, monkeypatch):  # noqa: F811 - the imported fixture
    """An older request's failure, arriving after a newer request's result, is not shown."""
    controller = _results_shown(qtbot, window, study)
    started, release = threading.Event(), threading.Event()
    real_list, real_compute = _controller.list_status, _controller.compute_results

    def first_fails(real):
        calls = []

        def fn(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:  # the older request: slow, and it fails
                started.set()
                release.wait(30)
                raise OSError("a run folder vanished")
            return real(*args, **kwargs)
        return fn

    monkeypatch.setattr(_controller, "list_status", first_fails(real_list))
    controller.refresh()
    assert started.wait(10)
    with qtbot.waitSignal(controller.sigStatusesShown, timeout=10_000):
        controller.refresh()  # supersedes the slow listing
    release.set()
    controller.tasks.wait(30_000)
    qtbot.wait(100)
    assert "Cannot list" not in controller.page.message.text()
    assert controller.page.picker.count() > 0

    started.clear()
    release.clear()
    monkeypatch.setattr(_controller, "compute_results", first_fails(real_compute))
    shown = []
    controller.sigResultsShown.connect(shown.append)
    controller.page.set_checked([CNN])
    controller.recompute()
    assert started.wait(10)
    controller.page.set_checked([CNN, VIT])
    with qtbot.waitSignal(controller.sigResultsShown, timeout=30_000):
        controller.recompute()  # supersedes the failing computation
    release.set()
    controller.tasks.wait(30_000)
    qtbot.wait(400)  # past the debounce the checks started (stopped by recompute)
    assert [[r.name for r in d.results] for d in shown] == [[CNN, VIT]]
    assert "Cannot compute" not in controller.page.message.text()
    assert not controller.page.busy.isVisible() and controller.results is shown[0]
