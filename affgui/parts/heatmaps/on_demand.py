"""Heatmaps on demand for screened images: ask for one image's map, hear when it is ready.

An unlabelled (screened) image has no out-of-fold heatmap: no fold model validated it. Its
map comes from the experiment's final model, computed by a ``predict`` job whose spec names a
heatmap method (``engine.final.submit_screen_heatmaps``), run by a local worker or on Slurm
like any job. :class:`HeatmapOnDemand` queues that job (or reuses one already queued for the
image), watches its state with one small query a second while any request is pending, and
emits :attr:`~HeatmapOnDemand.sigReady` with the image's row of the maps
(``engine.explain.Heatmaps``, the format the heatmap panes draw) once the map is stored.

Standalone on purpose: it knows neither the browser nor the heatmap window. The caller
connects its signals (a context-menu action asks, the heatmap window shows) and, through
``on_queued``, may start a worker. Everything it reads is a few SQLite rows or one small
``.npz``; it never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import EngineError
from engine.final import screened_heatmaps, submit_screen_heatmaps
from engine.jobs import TERMINAL_STATES, JobQueue

POLL_MS = 1000
DEFAULT_METHOD = "gradcam"


class HeatmapOnDemand(QObject):
    """Queues final-model heatmap jobs for single images and reports when each map is ready."""

    sigQueued = Signal(str, int, str, int)  # experiment, image id, method, job id
    # experiment, image id, method, engine.explain.Heatmaps (that image only)
    sigReady = Signal(str, int, str, object)
    sigFailed = Signal(str, int, str, str)  # experiment, image id, method, one-line reason

    def __init__(self, project=None, parent: QObject | None = None, *, interval_ms: int = POLL_MS,
                 backend: str = "local", on_queued: Callable[[int], None] | None = None):
        super().__init__(parent)
        self.project = project
        self.backend = backend
        self.on_queued = on_queued
        self.pending: dict[tuple[str, int, str], int] = {}  # (experiment, image id, method) -> job id
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)

    def set_project(self, project) -> None:
        """Another (or no) project: pending requests are forgotten (their jobs still run)."""
        self.project = project
        self.pending.clear()
        self._timer.stop()

    def request(self, experiment: str, image_id: int, method: str = DEFAULT_METHOD) -> int | None:
        """Ask for ``image_id``'s ``method`` map from ``experiment``'s final model.

        Returns the job id that will compute it, or None when the map is already stored
        (``sigReady`` was emitted) or the request was refused (``sigFailed`` says why).
        """
        image_id = int(image_id)
        if self.project is None:
            self.sigFailed.emit(experiment, image_id, method, "no project is open")
            return None
        try:
            if self._emit_if_stored(experiment, image_id, method):
                return None
            job_id = submit_screen_heatmaps(self.project, experiment, [image_id], method,
                                            backend=self.backend)
        except (EngineError, KeyError, ValueError) as exc:
            self.sigFailed.emit(experiment, image_id, method, _one_line(exc))
            return None
        self.pending[(experiment, image_id, method)] = job_id
        self.sigQueued.emit(experiment, image_id, method, job_id)
        if self.on_queued is not None:
            self.on_queued(job_id)
        if not self._timer.isActive():
            self._timer.start()
        return job_id

    def poll(self) -> None:
        """Look at the pending jobs once; emit for those that ended."""
        if self.project is None or not self.pending:
            self._timer.stop()
            return
        queue = JobQueue(self.project)
        for key, job_id in list(self.pending.items()):
            experiment, image_id, method = key
            try:
                job = queue.get(job_id)
            except KeyError:
                del self.pending[key]
                self.sigFailed.emit(experiment, image_id, method,
                                    f"heatmap job #{job_id} was deleted")
                continue
            if job.state not in TERMINAL_STATES:
                continue
            del self.pending[key]
            if job.state != "finished":
                why = f": {job.error}" if job.error else ""
                self.sigFailed.emit(experiment, image_id, method,
                                    f"heatmap job #{job_id} {job.state}{why}")
            elif not self._emit_if_stored(experiment, image_id, method):
                self.sigFailed.emit(experiment, image_id, method,
                                    f"heatmap job #{job_id} finished without a map of image {image_id}")
        if not self.pending:
            self._timer.stop()

    def _emit_if_stored(self, experiment: str, image_id: int, method: str) -> bool:
        maps = screened_heatmaps(self.project, experiment, method)
        if maps is None or image_id not in {int(i) for i in maps.image_ids}:
            return False
        self.sigReady.emit(experiment, image_id, method, maps.subset([image_id]))
        return True


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
