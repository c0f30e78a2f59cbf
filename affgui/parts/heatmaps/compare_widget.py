"""Heatmap comparison: one image, 2-4 experiments' maps side by side, zoom/pan and W/L linked.

Everything read from disk or the database (pixels, maps, which methods exist, job states)
is read on this widget's own task runner; the GUI thread only draws. Maps are kept per
experiment and method, so stepping through images reads one cached radiograph and no map
file. A pane without maps offers to queue the explain job; a timer polls the queued jobs
(one small query a second, on a worker) and the pane reloads when its job finishes.
An image that no fold model validated (a screened, unlabelled one, or a held-out one) has no
out-of-fold map: its pane offers the final model's map of that image instead
(:class:`~affgui.parts.heatmaps.on_demand.HeatmapOnDemand`), kept per experiment, method and image.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from affgui import display
from affgui.menus import make_action
from affgui.parts.heatmaps import loading
from affgui.parts.heatmaps.controls import HeatmapControlsWidget
from affgui.parts.heatmaps.job_watch import ExplainJobWatcher
from affgui.parts.heatmaps.on_demand import HeatmapOnDemand
from affgui.parts.heatmaps.pane import HeatmapPaneWidget
from affgui.tasks import TaskRunner
from engine.store import ImageRow, Project

MAX_EXPERIMENTS = 4


class HeatmapCompareWidget(QWidget):
    """Side-by-side heatmaps of the chosen experiments for the current image."""

    sigCurrentImageChanged = Signal(int)  # image id, after a keyboard step
    sigMapsShown = Signal(str, str)  # experiment, method: its maps reached the pane

    def __init__(self, parent: QWidget | None = None, keep_images: int = 6):
        super().__init__(parent)
        self.setWindowTitle("Compare Heatmaps")
        self.project: Project | None = None
        self.row: ImageRow | None = None
        self.panes: list[HeatmapPaneWidget] = []
        self.tasks = TaskRunner(self, max_threads=2)  # reads of self.project alone
        self._rows: Callable[[], Sequence[ImageRow]] = lambda: []
        self._maps: dict[tuple[str, str], loading.ExperimentMaps] = {}
        self._reading: set[tuple[str, str]] = set()
        self._available: dict[str, set[str]] = {}
        self._no_class_token: set[str] = set()
        self._pixels: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pixel_reading: set[str] = set()
        self._keep = keep_images
        self._levels = display.FILE_WINDOW
        self.watcher = ExplainJobWatcher(self._submit, lambda: self.project, self)
        self.watcher.sigJobEnded.connect(self._job_ended)
        # final-model maps of single images: (experiment, method, image id) -> their state
        self._final: dict[tuple[str, str, int], loading.ExperimentMaps] = {}
        self.on_demand = HeatmapOnDemand(parent=self)
        self.on_demand.sigQueued.connect(self._final_queued)
        self.on_demand.sigReady.connect(self._final_ready)
        self.on_demand.sigFailed.connect(self._final_failed)

        self.controls = HeatmapControlsWidget(MAX_EXPERIMENTS)
        self.controls.sigExperimentsChanged.connect(self._rebuild_panes)
        self.controls.sigMethodChanged.connect(lambda _m: self._show_maps())
        self.controls.sigColormapChanged.connect(lambda n: [p.set_colormap(n) for p in self.panes])
        self.controls.sigOpacityChanged.connect(lambda o: [p.set_opacity(o) for p in self.panes])
        self.controls.sigSmoothChanged.connect(lambda s: [p.set_smooth(s) for p in self.panes])
        self.controls.sigFitRequested.connect(self.fit)
        self.controls.sigResetLevelsRequested.connect(lambda: self.set_window_level(*display.FILE_WINDOW))
        self.position = QLabel()
        self.status = QLabel()
        for label in (self.position, self.status):  # patient IDs and names are shown as typed
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.controls.sigMessage.connect(self.status.setText)
        self._pane_box = QHBoxLayout()
        self._pane_box.setSpacing(4)
        layout = QVBoxLayout(self)
        layout.addWidget(self.controls)
        layout.addLayout(self._pane_box, 1)
        footer = QHBoxLayout()
        footer.addWidget(self.position)
        footer.addWidget(self.status, 1)
        layout.addLayout(footer)
        for name, step in (("heatmaps.next", 1), ("heatmaps.previous", -1)):
            action = make_action(name, self)  # its keys are declared in affgui.menus
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, s=step: self.step(s))
            self.addAction(action)
        self.resize(1400, 800)

    # -- inputs ---------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Read another project (``None``: forget everything); waits for reads of the old one.

        Every read still in flight is superseded first: none of its callbacks runs, so no
        pixel, map or job state of the old project lands in the new one's caches.
        """
        self.tasks.supersede_all()
        self.tasks.wait(10_000)
        self.project = project
        self._maps.clear()
        self._reading.clear()
        self._available.clear()
        self._no_class_token.clear()
        self._pixels.clear()
        self._pixel_reading.clear()
        self.watcher.clear()
        self._final.clear()
        self.on_demand.set_project(project)
        self.row = None
        self.controls.set_experiment_names([])  # no panes

    def set_rows_provider(self, rows: Callable[[], Sequence[ImageRow]]) -> None:
        """Where keyboard steps go: the caller's current (filtered) image list."""
        self._rows = rows

    def set_experiment_names(self, names: list[str], chosen: list[str] | None = None) -> None:
        """Offer ``names`` in the picker; tick ``chosen`` (default: the first two)."""
        self.controls.set_experiment_names(names, chosen if chosen is not None else names[:2])

    def refresh_experiments(self) -> None:
        """List the project's experiments again (on a worker), keeping the ticked ones."""
        project = self.project
        if project is None:
            return

        def done(names: list[str]) -> None:
            kept = [e for e in self.experiments() if e in names]
            self.set_experiment_names(names, kept or None)

        self._submit(lambda: loading.experiment_names(project), done, "list the experiments")

    def experiments(self) -> list[str]:
        return [p.experiment for p in self.panes]

    def method(self) -> str:
        return self.controls.method()

    def set_method(self, method: str) -> None:
        self.controls.set_method(method)

    def show_row(self, row: ImageRow | None) -> None:
        """Show ``row`` in every pane (pixels and maps arrive from worker threads)."""
        self.row = row
        pixels = self._pixels.get(row.sha256) if row is not None else None
        if row is not None and pixels is None:
            self._read_pixels(row.sha256)
        rois = self.project.rois.for_image(row.id) if row is not None and self.project else []
        for pane in self.panes:
            pane.set_image(row, pixels, self._low_high(), rois)
        self._update_position()
        self._show_maps()
        rows = self._rows()
        k = self._index(rows)
        if k is not None and k + 1 < len(rows):
            self._read_pixels(rows[k + 1].sha256)  # the likely next image

    def step(self, n: int) -> bool:
        """Move ``n`` images through the caller's list; False at either end."""
        rows = list(self._rows())
        if not rows:
            return False
        k = self._index(rows)
        target = (0 if n > 0 else len(rows) - 1) if k is None else min(max(k + n, 0), len(rows) - 1)
        if k is not None and target == k:
            return False
        self.show_row(rows[target])
        self.sigCurrentImageChanged.emit(rows[target].id)
        return True

    def window_level(self) -> tuple[float, float]:
        return self._levels

    def set_window_level(self, center: float, width: float) -> None:
        """One window for every pane."""
        self._levels = (float(center), max(float(width), 1.0))
        for pane in self.panes:
            pane.set_levels(self._low_high())
        self.controls.show_levels(*self._levels)

    def fit(self) -> None:
        if self.panes:
            self.panes[0].fit()  # the others follow through the link

    def reload(self, experiment: str | None = None) -> None:
        """Forget read maps (of one experiment, or all) and read them again."""
        for key in [k for k in self._maps if experiment is None or k[0] == experiment]:
            del self._maps[key]
        self._available = {e: m for e, m in self._available.items()
                           if experiment is not None and e != experiment}
        self._read_available()
        self._show_maps()

    def maps(self, experiment: str, method: str | None = None) -> loading.ExperimentMaps | None:
        return self._maps.get((experiment, method or self.method()))

    # -- panes ------------------------------------------------------------------------
    def _rebuild_panes(self, names: list[str]) -> None:
        old = {p.experiment: p for p in self.panes}
        self.panes = []
        for name in names[:MAX_EXPERIMENTS]:
            pane = old.pop(name, None) or self._new_pane(name)
            self.panes.append(pane)
            self._pane_box.addWidget(pane, 1)  # re-adding moves it into the new order
        for pane in old.values():
            pane.setParent(None)
            pane.deleteLater()
        first = self.panes[0].view_box if self.panes else None
        for pane in self.panes:
            link = None if pane.view_box is first else first
            pane.view_box.setXLink(link)
            pane.view_box.setYLink(link)
        self._read_available()
        self.show_row(self.row)

    def _new_pane(self, name: str) -> HeatmapPaneWidget:
        pane = HeatmapPaneWidget(name)
        pane.set_colormap(self.controls.colormap())
        pane.set_opacity(self.controls.opacity())
        pane.set_smooth(self.controls.smooth())
        pane.sigComputeRequested.connect(self.compute)
        pane.sigFinalMapRequested.connect(self.compute_final)
        pane.sigWindowLevelDragged.connect(
            lambda dx, dy: self.set_window_level(self._levels[0] + dy, self._levels[1] + dx))
        pane.sigFitRequested.connect(self.fit)
        return pane

    def _low_high(self) -> tuple[float, float]:
        c, w = self._levels
        return c - w / 2, c + w / 2

    def _index(self, rows: Sequence[ImageRow]) -> int | None:
        if self.row is None:
            return None
        return next((k for k, r in enumerate(rows) if r.id == self.row.id), None)

    def _update_position(self) -> None:
        rows, r = self._rows(), self.row
        k = self._index(rows)
        where = f"{k + 1} of {len(rows)}" if k is not None else "not in the list"
        self.position.setText("" if r is None else f"#{r.id} · {r.patient_key} · {where}")

    # -- reading ----------------------------------------------------------------------
    def _submit(self, fn, done, what: str, always: Callable[[], None] | None = None) -> None:
        """Run ``fn`` on a worker; ``done`` (and ``always``, also on failure) only if still current.

        A read of an older project is superseded by :meth:`set_project`, so its callbacks
        never run.
        """

        def on_done(result):
            if always is not None:
                always()
            done(result)

        def on_failed(exc):
            if always is not None:
                always()
            self.status.setText(f"Cannot {what}: {exc}")

        self.tasks.submit(lambda _progress: fn(), done=on_done, failed=on_failed)

    def _read_pixels(self, sha256: str) -> None:
        project = self.project
        if project is None or sha256 in self._pixels or sha256 in self._pixel_reading:
            return
        self._pixel_reading.add(sha256)

        def done(pixels: np.ndarray) -> None:
            self._pixels[sha256] = pixels
            while len(self._pixels) > self._keep:
                self._pixels.popitem(last=False)
            if self.row is not None and self.row.sha256 == sha256:
                self.show_row(self.row)

        self._submit(lambda: np.array(project.cache.load_full(sha256)), done, "read the image",
                     lambda: self._pixel_reading.discard(sha256))

    def _read_available(self) -> None:
        project, names = self.project, [e for e in self.experiments() if e not in self._available]
        if project is None or not names:
            self.controls.set_available(self._available, self.experiments(), self._no_class_token)
            return
        pending = set(names)  # not in _available until read, so no default is picked from a guess

        def done(found: tuple[dict[str, set[str]], set[str]]) -> None:
            maps, blocked = found
            self._available.update(maps)
            self._no_class_token = (self._no_class_token - pending) | blocked
            self.controls.set_available(self._available, self.experiments(), self._no_class_token)

        self._submit(lambda: ({n: loading.available_methods(project, n) for n in names},
                              loading.without_class_token(project, names)), done, "list the heatmaps")

    def _show_maps(self) -> None:
        method = self.method()
        for pane in self.panes:
            key = (pane.experiment, method)
            maps = self._maps.get(key)
            final = self._final.get((*key, self.row.id)) if self.row is not None else None
            if final is not None and (maps is None or maps.state != loading.READY
                                      or maps.row_of(self.row.id) is None):
                pane.set_maps(final)  # this image's map comes from the final model
            else:
                pane.set_maps(maps)
            if maps is None:
                self._read_maps(key)
            else:
                self.sigMapsShown.emit(*key)

    def _read_maps(self, key: tuple[str, str]) -> None:
        project = self.project
        if project is None or key in self._reading or self.row is None:
            return
        self._reading.add(key)

        def done(maps: loading.ExperimentMaps) -> None:
            self._maps[key] = maps
            if maps.state == loading.PENDING:
                self.watcher.watch(maps.job_id, *key)
            if key[1] == self.method():
                self._show_maps()

        self._submit(lambda: loading.load_maps(project, *key), done, "read the heatmaps",
                     lambda: self._reading.discard(key))

    # -- explain jobs ------------------------------------------------------------------
    def compute(self, experiment: str) -> None:
        """Queue the explain job for ``experiment``'s maps of the current method."""
        project, key = self.project, (experiment, self.method())
        if project is None:
            return

        def done(job_id: int) -> None:
            self._maps[key] = loading.ExperimentMaps(
                *key, loading.PENDING, f"computing {key[1]} maps (job #{job_id})", job_id=job_id)
            self.watcher.watch(job_id, *key)
            self.status.setText(f"Queued explain job #{job_id}: {key[1]} maps of {experiment}; "
                                "a worker computes them")
            self._show_maps()

        self._submit(lambda: loading.queue_explain(project, *key), done, "queue the explain job")

    def compute_final(self, experiment: str) -> None:
        """Ask for the current image's map from ``experiment``'s final model (queued job)."""
        if self.project is None or self.row is None:
            return
        self.on_demand.request(experiment, self.row.id, self.method())

    def _final_queued(self, experiment: str, image_id: int, method: str, job_id: int) -> None:
        self._final[(experiment, method, image_id)] = loading.ExperimentMaps(
            experiment, method, loading.PENDING,
            f"computing the final model's {method} map (job #{job_id})", job_id=job_id,
            final_model=True)
        self.status.setText(f"Queued heatmap job #{job_id}: the final model of {experiment} on "
                            f"image #{image_id}; a worker computes it")
        self._show_maps()

    def _final_ready(self, experiment: str, image_id: int, method: str, heatmaps) -> None:
        self._final[(experiment, method, image_id)] = loading.ExperimentMaps(
            experiment, method, loading.READY, heatmaps=heatmaps, index={int(image_id): 0},
            final_model=True)
        self.status.setText(f"The final model's {method} map of image #{image_id} ({experiment})")
        self._show_maps()

    def _final_failed(self, experiment: str, image_id: int, method: str, why: str) -> None:
        self._final[(experiment, method, image_id)] = loading.ExperimentMaps(
            experiment, method, loading.FAILED, f"final model: {why}", final_model=True)
        self.status.setText(f"No final-model map of image #{image_id}: {why}")
        self._show_maps()

    def _job_ended(self, job_id: int, experiment: str, method: str, state: str, error: str) -> None:
        key = (experiment, method)
        if state == "finished":
            self._maps.pop(key, None)
            self._available.pop(experiment, None)
            self.status.setText(f"Explain job #{job_id} finished: {method} maps of {experiment}")
        else:
            message = f"explain job #{job_id} {state}" + (f": {error}" if error else "")
            self._maps[key] = loading.ExperimentMaps(*key, loading.FAILED, message)
        self._read_available()
        self._show_maps()

    def closeEvent(self, event) -> None:
        self.watcher.clear()  # reopening reads the maps again, and finds a job still running
        self._maps = {k: m for k, m in self._maps.items() if m.state == loading.READY}
        super().closeEvent(event)
