"""WorkerManager with real workers: auto-start trains a tiny job; a reopened GUI sees and stops them."""

from __future__ import annotations

import pytest

from affgui.parts.experiments.job_monitor import JobMonitor
from affgui.parts.experiments.workers import LOG_FOLDER, WorkerManager
from affgui.tasks import TaskRunner
from engine.experiments import create_experiment
from engine.store import Project
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # one CPU worker, also on a GPU machine
    return make_project(tmp_path / "Study", patients=8, per_patient=1, aff_share=0.5, k=2)


class Gui:
    """What one GUI session holds: its project connection, monitor and worker manager."""

    def __init__(self, path, extra_args):
        self.project = Project.open(path)
        self.tasks = TaskRunner(max_threads=2)
        self.monitor = JobMonitor(tasks=self.tasks, interval_ms=200)
        self.workers = WorkerManager(self.monitor, self.tasks, extra_args=extra_args)
        self.monitor.set_project(self.project)

    def close(self):
        self.monitor.set_project(None)
        self.monitor.stop()
        self.project.close()


@pytest.fixture
def guis():
    opened = []
    yield lambda path, extra=(): opened.append(Gui(path, list(extra))) or opened[-1]
    for gui in opened:
        gui.workers.stop()  # whatever a failed test left running
        assert gui.workers.wait(60), "a worker did not exit"
        gui.close()


def test_auto_start_runs_a_queued_job_to_the_end(qtbot, study, guis):
    with Project.open(study) as p:
        create_experiment(p, "tiny", tiny_spec(study, epochs=1, image_size=32), folds=[0])
    gui = guis(study, ["--exit-when-idle"])
    qtbot.waitUntil(lambda: gui.monitor.polls >= 1, timeout=10_000)
    finished = []
    gui.monitor.sigExperimentFinished.connect(finished.append)
    with qtbot.waitSignal(gui.workers.sigStarted, timeout=20_000) as started:
        assert gui.workers.ensure_running()
    assert len(started.args[0]) == 1
    assert not gui.workers.ensure_running()  # one is already on its way
    qtbot.waitUntil(lambda: finished == ["tiny"], timeout=180_000)
    job = gui.monitor.jobs[0]
    assert (job.state, job.progress, job.device) == ("finished", 1.0, "cpu")
    assert [m["epoch"] for m in gui.monitor.metrics(job.run_id)] == [1]
    assert gui.workers.wait(60)  # --exit-when-idle: the queue is empty
    qtbot.waitUntil(lambda: gui.workers.label.text() == "Workers: none", timeout=10_000)
    logs = list((study / LOG_FOLDER).glob("worker-cpu-*.log"))
    assert len(logs) == 1


def test_a_reopened_gui_sees_running_workers_and_stops_them(qtbot, study, guis):
    first = guis(study)
    first.workers.start(["cpu"])
    qtbot.waitUntil(lambda: first.workers.label.text() == "Workers: 1 running", timeout=60_000)
    proc = first.workers._procs[0][1]  # the Popen started for this GUI's project
    pid = proc.pid

    second = guis(study)  # as if the GUI had been closed and opened again
    told = []
    second.workers.sigMessage.connect(told.append)
    qtbot.waitUntil(lambda: second.workers.label.text()
                    == "Workers: 1 running, 1 in the background", timeout=10_000)
    assert told and told[0].startswith("1 worker(s) running in the background")
    with qtbot.waitSignal(second.workers.sigMessage, timeout=5000) as msg:
        assert not second.workers.start_requested()  # one per device is running already
    assert msg.args[0].startswith("1 worker(s) already running here")
    assert [w.pid for w in second.workers.alive()] == [pid]
    assert "cpu" in second.workers.label.toolTip()
    with qtbot.waitSignal(second.workers.sigMessage, timeout=5000) as msg:
        assert second.workers.stop() == [pid]
    assert msg.args[0].startswith("Stopping 1 worker(s)")
    assert first.workers.wait(60)  # SIGTERM: the worker ends cleanly
    assert proc.returncode == 0
    qtbot.waitUntil(lambda: second.workers.label.text() == "Workers: none", timeout=10_000)
    assert second.project.query("SELECT state FROM workers")[0][0] == "stopped"


def test_stop_reaches_only_the_open_projects_workers(qtbot, study, tmp_path, guis):
    import signal
    import subprocess
    import sys

    other = make_project(tmp_path / "Other", patients=8, per_patient=1, aff_share=0.5, k=2)
    gui = guis(study)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gui.workers._started(other, [sleeper])  # as if started while Other was open
        assert gui.workers.stop() == []  # Study is open: Other's worker is left alone
        assert sleeper.poll() is None
        with Project.open(other) as other_project:  # now Other is open: its worker is stopped
            with qtbot.waitSignal(gui.monitor.sigJobs, timeout=10_000):
                gui.monitor.set_project(other_project)
            assert gui.workers.stop() == [sleeper.pid]
            assert sleeper.wait(10) == -signal.SIGTERM
            gui.monitor.set_project(None)
    finally:
        sleeper.kill()
        sleeper.wait()
