"""``affgui --self-test``: a short end-to-end run showing that an installation or a bundle works.

It loads the app's resources, builds a small demo project in a temporary folder (phantom
DICOMs, compressed transfer syntaxes included), opens it in the main window, queues one fold of
a tiny CNN and lets a real worker process run it (``engine.jobs.start_worker``: in a frozen
bundle that is the bundle's own executable in ``--engine worker`` mode), then checks that the job
finished with metrics. Settings go to the temporary folder too, so the user's recent projects
are left alone. Each step prints one line; the first failure ends the test with its reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from affgui.icons import ICON, RESOURCES, ResourceError, resource_path

DEMO_PATIENTS = 10
DEMO_SIZE = (256, 200)  # height, width: small, so the build takes seconds
# JPEG 2000 and RLE: the demo must decode through the pydicom plugins a bundle has to carry.
COMPRESSED_SYNTAXES = {"1.2.840.10008.1.2.4.90": "JPEG 2000", "1.2.840.10008.1.2.5": "RLE"}
TRAIN_OPTIONS = dict(model="resnet10t", pretrained=False, image_size=64, epochs=1, batch_size=8,
                     warmup_epochs=0.0, device="cpu", num_threads=2, progress_every=1)


class SelfTestError(Exception):
    """A self-test step that did not do what it should; the message says what and where."""


@contextmanager
def _isolated_settings(folder: Path) -> Iterator[None]:
    """Point the settings at ``folder`` for the duration (the user's own are not touched)."""
    from affgui.settings import reset_settings

    names = ("AFFWB_CONFIG_DIR", "AFFWB_DATA_DIR")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["AFFWB_CONFIG_DIR"] = str(folder / "config")
    os.environ["AFFWB_DATA_DIR"] = str(folder / "data")
    reset_settings()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()


def _wait(app, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Process Qt events until ``done()``; SelfTestError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SelfTestError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def check_resources() -> str:
    from PySide6.QtGui import QIcon

    try:
        missing = [name for name in RESOURCES if not resource_path(name).is_file()]
    except ResourceError as exc:
        raise SelfTestError(str(exc)) from None
    if missing:
        raise SelfTestError(f"this installation's affgui/resources/ lacks {', '.join(missing)}")
    with resources.as_file(resource_path(ICON)) as svg:
        if QIcon(str(svg)).pixmap(64, 64).isNull():
            raise SelfTestError(f"the app icon {svg} does not render (Qt's SVG image plugin missing?)")
    return f"{len(RESOURCES)} resources, icon renders"


def build_demo(folder: Path) -> tuple[Path, int]:
    from engine.demo import build_demo_project
    from engine.store import Project

    path = build_demo_project(folder / "SelfTest.affproj", patients=DEMO_PATIENTS, size=DEMO_SIZE)
    with Project.open(path) as project:
        syntaxes = {r[0] for r in project.query("SELECT DISTINCT transfer_syntax FROM images")}
        n = project.query("SELECT count(*) FROM images")[0][0]
    missing = [name for uid, name in COMPRESSED_SYNTAXES.items() if uid not in syntaxes]
    if missing:
        raise SelfTestError(f"the demo in {path} has no {', '.join(missing)} images to decode")
    return path, n


def open_in_window(app, path: Path, n_images: int, timeout_s: float):
    from affgui.main_window import MainWindow
    from affgui.settings import get_settings

    window = MainWindow(get_settings())
    window.show()
    window.open_project(path, quiet=True)  # quiet: a failure goes to the status bar, not a dialog
    try:
        _wait(app, lambda: window.project is not None or "Could not" in window.statusBar().currentMessage(),
              timeout_s, f"the window to open {path}")
        if window.project is None:
            raise SelfTestError(window.statusBar().currentMessage())
        _wait(app, lambda: window.grid.model().rowCount() == n_images, timeout_s,
              f"the window to list {n_images} images")
    except BaseException:
        window.close()
        raise
    return window


def queue_training(path: Path) -> int:
    from engine.experiments import create_experiment
    from engine.splits import create_split
    from engine.store import Project
    from engine.train import RunSpec

    with Project.open(path) as project:
        split = create_split(project, "self-test", k=2, seed=0)
        spec = RunSpec(project=str(path), split=split.name, fold=0, **TRAIN_OPTIONS)
        experiment = create_experiment(project, "self-test", spec, folds=[0])
        rows = project.query("SELECT id FROM jobs WHERE experiment_id = ?", (experiment.id,))
    return rows[0][0]


def run_worker(app, path: Path, job_id: int, log: Path, timeout_s: float) -> str:
    from engine.jobs import JobQueue, kill_process_tree, start_worker, worker_command
    from engine.store import Project

    command = worker_command(path, "cpu", ["--exit-when-idle"])
    proc = start_worker(path, "cpu", log_path=log, extra=["--exit-when-idle"])
    try:
        _wait(app, lambda: proc.poll() is not None, timeout_s, f"the worker ({' '.join(command)})")
    except SelfTestError:
        kill_process_tree(proc.pid)
        raise SelfTestError(f"the worker did not finish; its log:\n{_tail(log)}") from None
    with Project.open(path) as project:
        job = JobQueue(project).get(job_id)
        run_dir = project.runs_dir / job.run_id
    if proc.returncode != 0 or job.state != "finished":
        raise SelfTestError(f"the worker exited {proc.returncode} with the job {job.state}"
                            f"{': ' + job.error if job.error else ''}; its log:\n{_tail(log)}")
    if not (run_dir / "metrics.json").is_file():
        raise SelfTestError(f"the finished job wrote no {run_dir / 'metrics.json'}")
    return f"job {job_id} finished by `{' '.join(command[:3])} ...`, metrics in {run_dir.name}"


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(no log: {exc})"


def run_self_test(app, *, workdir: Path | None = None, timeout_s: float = 600.0,
                  echo: Callable[[str], None] = print) -> int:
    """Run every step with ``app`` (a QApplication); 0 when all pass, 1 at the first failure."""
    folder = Path(tempfile.mkdtemp(prefix="affwb-self-test-", dir=workdir))
    step = "starting"

    def run(name: str, fn, *args):
        nonlocal step
        step, start = name, time.monotonic()
        result = fn(*args)
        detail = f", {result}" if isinstance(result, str) else ""
        echo(f"self-test: {name}: ok{detail} ({time.monotonic() - start:.1f} s)")
        return result

    t0 = time.monotonic()
    try:
        with _isolated_settings(folder):
            run("resources", check_resources)
            path, n = run("demo project", build_demo, folder)
            echo(f"self-test: the demo has {n} images in {path}")
            window = run("main window", open_in_window, app, path, n, timeout_s)
            try:
                job_id = run("queue training", queue_training, path)
                run("worker", run_worker, app, path, job_id, folder / "worker.log", timeout_s)
            finally:
                window.close_project()
                window.close()
        echo(f"self-test: passed in {time.monotonic() - t0:.0f} s")
        return 0
    except Exception as exc:  # every failure ends the test with one line that says where and why
        echo(f"self-test: FAILED at {step}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["RESOURCES", "SelfTestError", "resource_path", "run_self_test"]
