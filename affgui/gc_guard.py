"""Python's cyclic garbage collection on the GUI thread only, between events.

CPython runs a collection on whichever thread happens to allocate when a generation's
threshold is crossed: in this app often a worker thread (listings, statistics, map reads).
A collection that frees a Qt wrapper there makes PySide defer the C++ deletion to the GUI
thread, where it then runs in the middle of whatever that thread is doing (a paint event,
say); destroying menus and actions at such a point has deadlocked the GUI on one of Qt's
internal mutexes (seen in the test suite). The cure pyqtgraph also uses: switch automatic
collection off and collect from a timer on the GUI thread, where the event loop is at a
safe point. Reference counting still frees everything without cycles at once.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class MainThreadCollector(QObject):
    """Disables automatic collection and collects, generation by generation, on a timer."""

    def __init__(self, interval_ms: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.start()

    def start(self) -> None:
        gc.disable()
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds."""
        counts = gc.get_count()
        generation = -1
        for g in range(3):
            if counts[g] <= self.threshold[g]:
                break
            generation = g
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1

    def stop(self) -> None:
        """Back to automatic collection (tests, shutdown)."""
        self.timer.stop()
        gc.enable()


def install(app) -> MainThreadCollector:
    """Collect only on ``app``'s thread from now on; the collector lives as long as ``app``."""
    existing = app.findChild(MainThreadCollector)
    if existing is None:
        return MainThreadCollector(parent=app)
    existing.start()
    return existing
