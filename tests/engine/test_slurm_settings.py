"""Cluster settings, the batch script and the submitter's behaviour without a cluster (no Slurm needed)."""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.cli import main
from engine.jobs import JobQueue, cancel_job
from engine.slurm import ClusterSettings, SettingsError, batch_script, slurm_log, submissions, sync
from engine.store import Project


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p") as p:
        yield p


def test_settings_round_trip_through_the_project_folder(project):
    assert ClusterSettings.load(project) == ClusterSettings()  # defaults before any save
    s = ClusterSettings(partition="gpu", account="aff-lab", qos="normal", gpus=2, cpus=8, mem="64G",
                        time="1-12:00:00", extra=("#SBATCH --constraint=a100", "--exclusive"),
                        setup="module load cuda/12\nsource ~/affwb/bin/activate",
                        command="python3 -m engine", signal_grace_s=300, max_submissions=3)
    path = s.save(project)
    assert path == project.path / "slurm.json"
    assert ClusterSettings.load(project.path) == s
    assert s.time_seconds() == 36 * 3600
    assert s.sbatch_options() == [
        "--partition=gpu", "--account=aff-lab", "--qos=normal", "--nodes=1", "--ntasks=1",
        "--cpus-per-task=8", "--mem=64G", "--time=1-12:00:00", "--gpus=2", "--signal=B:TERM@300",
        "--constraint=a100", "--exclusive"]


@pytest.mark.parametrize("time_text, seconds", [("90", 5400), ("1:30", 90), ("02:00:00", 7200),
                                                ("2-0", 172800), ("1-01:30", 91800)])
def test_time_limits_in_slurm_formats(time_text, seconds):
    assert ClusterSettings(time=time_text).time_seconds() == seconds


def test_signal_grace_is_left_out_when_it_exceeds_the_time_limit():
    opts = ClusterSettings(time="1", signal_grace_s=120).sbatch_options()
    assert not any(o.startswith("--signal") for o in opts)


def test_every_bad_setting_is_named(project):
    bad = ClusterSettings(partition="gpu; rm -rf /", cpus=0, mem="lots", time="soon",
                          extra=("--output=/tmp/x.log", "constraint=a100"), command="a\nb")
    with pytest.raises(SettingsError) as err:
        bad.save(project)
    msg = str(err.value)
    for part in ("partition", "cpus 0", "mem 'lots'", "time 'soon'", "--output", "constraint=a100",
                 "command: one line"):
        assert part in msg
    assert not (project.path / "slurm.json").exists()  # nothing half-written


def test_a_broken_settings_file_says_where_and_why(project):
    (project.path / "slurm.json").write_text(json.dumps({"partition": "gpu", "gpu": 1}))
    with pytest.raises(SettingsError, match=r"slurm.json: unknown setting\(s\) gpu"):
        ClusterSettings.load(project)
    (project.path / "slurm.json").write_text(json.dumps({"command": 5, "setup": ["module load x"]}))
    with pytest.raises(SettingsError, match="slurm.json: setup: text expected; command: text expected"):
        ClusterSettings.load(project)
    (project.path / "slurm.json").write_text("{not json")
    with pytest.raises(SettingsError, match="slurm.json: cannot read cluster settings"):
        ClusterSettings.load(project)


def test_batch_script_is_readable_and_quotes_the_run_folder(project, tmp_path):
    queue = JobQueue(project)
    job = queue.get(queue.submit("train", {"project": str(project.path)}, fold=1, backend="slurm"))
    run_dir = tmp_path / "My Study.affproj" / "runs" / job.run_id
    s = ClusterSettings(partition="gpu", gpus=1, setup="module load cuda", extra=("--constraint=a100",))
    text = batch_script(s, run_dir, job, ["/opt/py/bin/python", "-m", "engine"])
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert f"#SBATCH --job-name=affwb-{job.id}" in lines and "#SBATCH --gpus=1" in lines
    assert "#SBATCH --output=slurm/slurm-%j.log" in lines and "#SBATCH --constraint=a100" in lines
    assert lines[-2] == "module load cuda"  # set-up runs just before the engine
    assert lines[-1] == f"exec /opt/py/bin/python -m engine slurm exec '{run_dir}'"
    custom = batch_script(s.replace(command="~/bundle/AFFWorkbench --engine"), run_dir, job, ["x"])
    assert custom.splitlines()[-1].startswith("exec ~/bundle/AFFWorkbench --engine slurm exec ")
    # the script runs as shell: bash accepts it
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


def test_sync_runs_no_slurm_command_without_slurm_jobs(project, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"ran {args[0]}")

    monkeypatch.setattr(subprocess, "run", forbidden)
    JobQueue(project).submit("train", {}, backend="local")
    report = sync(project)
    assert report.changes == [] and report.errors == [] and report.active == 0


def test_without_sbatch_the_job_waits_and_sync_says_why(project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    queue = JobQueue(project)
    job_id = queue.submit("train", {"project": str(project.path)}, backend="slurm")
    report = sync(project)
    assert report.submitted == [] and "sbatch not found" in report.errors[0]
    assert queue.get(job_id).state == "queued" and submissions(project, job_id) == []
    with pytest.raises(LookupError, match="never submitted"):
        slurm_log(project, job_id)
    assert cancel_job(project, job_id) == "cancelled"  # never submitted: no scancel needed


def test_set_backend_moves_waiting_jobs_only(project):
    queue = JobQueue(project)
    job_id = queue.submit("train", {})
    queue.set_backend(job_id, "slurm")
    assert queue.get(job_id).backend == "slurm" and queue.claim("w") is None
    with pytest.raises(ValueError, match="unknown backend"):
        queue.set_backend(job_id, "cloud")
    queue.set_backend(job_id, "local")
    queue.claim("w")
    with pytest.raises(ValueError, match="running job keeps its backend"):
        queue.set_backend(job_id, "slurm")


def test_cli_settings_show_change_and_refuse(project, capsys):
    path = str(project.path)
    assert main(["slurm", "settings", path, "--partition", "gpu", "--gpus", "1", "--time", "2:00:00",
                 "--extra=--constraint=a100", "--setup", "module load cuda"]) == 0
    out = capsys.readouterr().out
    assert "saved" in out and "partition        'gpu'" in out
    assert ClusterSettings.load(project).extra == ("--constraint=a100",)
    assert main(["slurm", "settings", path, "--clear-extra"]) == 0
    assert ClusterSettings.load(project).extra == () and ClusterSettings.load(project).gpus == 1
    assert main(["slurm", "settings", path, "--mem", "lots"]) == 2
    assert "mem 'lots'" in capsys.readouterr().err
    assert ClusterSettings.load(project).mem == "16G"
    assert main(["slurm", "log", path, "99"]) == 2
    assert "no job with id 99" in capsys.readouterr().err
    assert main(["slurm", "submit", path, "nope"]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err


def test_cli_sync_refuses_a_watch_interval_that_is_not_positive(project, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # refused before any Slurm command
    JobQueue(project).submit("train", {}, backend="slurm")
    assert main(["slurm", "sync", str(project.path), "--watch", "-5"]) == 2
    assert "--watch -5: seconds between syncs, more than 0" in capsys.readouterr().err
