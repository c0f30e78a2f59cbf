"""Live training curves: loss and validation AUC per epoch of the runs selected in the queue.

Points come from the monitor's ``metric`` events (one per epoch, already read off the GUI
thread); new events only mark the plot stale, and a timer redraws at most
:data:`REDRAW_HZ` times a second, so a run that streams events never stalls the GUI.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from affgui.parts.experiments.job_monitor import JobMonitor, JobRow

REDRAW_HZ = 4
MAX_RUNS = 8  # more curves than this are unreadable; the first selected are drawn
PALETTE = ("#4e9af1", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7")


def _number(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):  # None: a one-class validation fold has no AUC
        return float("nan")


def run_label(job: JobRow) -> str:
    return job.title  # "cnn r0f1s0", never "fNone"


class TrainingCurvesWidget(QWidget):
    """Two plots side by side: train/validation loss and validation AUC against epoch."""

    def __init__(self, monitor: JobMonitor, parent: QWidget | None = None):
        super().__init__(parent)
        self.monitor = monitor
        self.view = pg.GraphicsLayoutWidget()
        self.loss_plot = self.view.addPlot(title="Loss (solid: training, dashed: validation)")
        self.auc_plot = self.view.addPlot(title="Validation AUC")
        for plot in (self.loss_plot, self.auc_plot):
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
        self.auc_plot.addLegend(offset=(-5, -5))  # one entry per run; the colours match the loss plot
        self.auc_plot.setYRange(0.0, 1.0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.runs: list[JobRow] = []
        self.redraws = 0
        self._curves: dict[str, tuple] = {}
        self._stale = False
        self._timer = QTimer(self, interval=int(1000 / REDRAW_HZ))
        self._timer.timeout.connect(self._redraw_if_stale)
        self._timer.start()
        monitor.sigEvents.connect(self._on_events)

    def set_runs(self, jobs: list[JobRow]) -> None:
        """Show the curves of ``jobs`` (the queue's selection); drawn at the next tick."""
        jobs = jobs[:MAX_RUNS]
        if [j.run_id for j in jobs] == [j.run_id for j in self.runs]:
            return
        self.runs = list(jobs)
        for plot in (self.loss_plot, self.auc_plot):
            plot.clear()
        self.auc_plot.legend.clear()
        self._curves = {}
        for k, job in enumerate(self.runs):
            color = PALETTE[k % len(PALETTE)]
            name = run_label(job)
            solid = pg.mkPen(color, width=2)
            dashed = pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine)
            self._curves[job.run_id] = (
                self.loss_plot.plot([], [], pen=solid, symbol="o", symbolSize=4, symbolBrush=color),
                self.loss_plot.plot([], [], pen=dashed),
                self.auc_plot.plot([], [], pen=solid, symbol="o", symbolSize=4, symbolBrush=color,
                                   name=name),
            )
        self._stale = True

    def points(self, run_id: str) -> dict[str, list[float]]:
        """What the curves of ``run_id`` show: epoch, train_loss, val_loss, val_auc."""
        metrics = self.monitor.metrics(run_id)
        by_epoch = {m["epoch"]: m for m in metrics  # a resumed run may repeat an epoch
                    if isinstance(m.get("epoch"), int | float) and not isinstance(m["epoch"], bool)}
        epochs = sorted(by_epoch)
        return {key: [float(e) if key == "epoch" else _number(by_epoch[e].get(key)) for e in epochs]
                for key in ("epoch", "train_loss", "val_loss", "val_auc")}

    # -- internals ----------------------------------------------------------------
    def _on_events(self, run_id: str, events: list) -> None:
        if run_id in self._curves and any(e.get("type") == "metric" for e in events):
            self._stale = True

    def _redraw_if_stale(self) -> None:
        if not self._stale:
            return
        self._stale = False
        self.redraws += 1
        for run_id, (train, val, auc) in self._curves.items():
            p = self.points(run_id)
            train.setData(p["epoch"], p["train_loss"], connect="finite")
            val.setData(p["epoch"], p["val_loss"], connect="finite")
            auc.setData(p["epoch"], p["val_auc"], connect="finite")
