"""Garbage collection runs on the GUI thread only (see affgui/gc_guard.py)."""

from __future__ import annotations

import gc
import threading

from affgui import gc_guard


class Cycle:
    def __init__(self):
        self.me = self


def test_collection_is_off_and_the_timer_collects_cycles(qtbot, qapp):
    collector = gc_guard.install(qapp)
    assert gc_guard.install(qapp) is collector  # one per application
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled()
    collector.start()
    assert not gc.isenabled()
    seen = []
    gc.callbacks.append(lambda phase, info: seen.append(threading.current_thread().name)
                        if phase == "start" else None)
    try:
        def churn():  # a worker thread that allocates far past the threshold
            for _ in range(5 * collector.threshold[0]):
                Cycle()

        worker = threading.Thread(target=churn, name="churn")
        worker.start()
        worker.join()
        assert "churn" not in seen  # no collection on the worker
        before = collector.collections
        qtbot.waitUntil(lambda: collector.collections > before, timeout=5000)
        assert seen and set(seen) == {threading.main_thread().name}
    finally:
        gc.callbacks.pop()
