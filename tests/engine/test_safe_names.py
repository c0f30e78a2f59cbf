"""Names that become paths (run ids, experiment names) never lead out of their folder."""

import pytest

from engine.errors import InvalidInput
from engine.jobs import JobQueue, Worker, register_job_kind
from engine.report import ExperimentRecord, export_mlflow, export_tensorboard
from engine.runs import MAX_NAME, EventWriter, RunFolder, safe_name
from engine.store import Project


@pytest.mark.parametrize("name", ["resnet50-scratch", "vit_small.v2", "ResNet 50 (a)"[:-4], "a",
                                  "20261127-190632-train-dc5100", "lr=0.1+aug@2", "x" * MAX_NAME])
def test_safe_names_pass(name):
    assert safe_name(name) == name


@pytest.mark.parametrize("name, why", [
    ("", "empty"), ("..", "'..'"), ("a/../b", "'/'"), ("../../etc", "'/'"), ("a..b", "'..'"),
    ("/etc/passwd", "'/'"), ("C:evil", "drive"), ("a\\b", "contains '\\'"), ("a\x00b", "NUL"),
    (".hidden", "starting with a letter or digit"), ("-rf", "starting with a letter or digit"),
    ("a\nb", "use letters"), ("trailing ", "use letters"), ("é", "use letters"),
    ("x" * (MAX_NAME + 1), f"at most {MAX_NAME}"), (None, "must be text")])
def test_unsafe_names_are_refused_with_the_reason(name, why):
    with pytest.raises(InvalidInput, match="run id") as err:
        safe_name(name, "run id")
    assert why in str(err.value)


def _writer(job, project, run_dir, should_stop, device, progress):
    with EventWriter(run_dir / "events.jsonl") as ev:
        ev.emit("finished")
    return "finished"


register_job_kind("write_here", _writer)


@pytest.mark.parametrize("crafted", ["../../outside", "ABSOLUTE"])
def test_a_crafted_run_id_in_the_database_never_makes_a_worker_write_outside(tmp_path, crafted):
    outside = tmp_path / "outside"
    run_id = str(outside) if crafted == "ABSOLUTE" else crafted
    with Project.create(tmp_path / "P") as project:
        q = JobQueue(project)
        job_id = q.submit("write_here", {})
        with project.transaction() as conn:  # a database someone edited by hand
            conn.execute("UPDATE jobs SET run_id = ? WHERE id = ?", (run_id, job_id))
        assert (project.runs_dir / run_id).resolve() == outside.resolve()
        assert Worker(project.path, heartbeat_s=0.1).run(exit_when_idle=True) == 1
        job = q.get(job_id)
        assert job.state == "failed" and "InvalidInput: run id" in job.error and "'/'" in job.error
    assert not outside.exists()


def test_a_run_folder_that_is_a_link_out_of_runs_is_refused(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "runs" / "r1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidInput, match="link out of"):
        RunFolder(tmp_path / "runs", "r1")
    assert RunFolder(tmp_path / "runs", "r2").events == tmp_path / "runs" / "r2" / "events.jsonl"


def test_exports_refuse_an_experiment_name_that_leaves_the_export_folder(tmp_path):
    record = ExperimentRecord(name="../../escaped", params={}, folds=[], summary={})
    with pytest.raises(InvalidInput, match="experiment name '../../escaped'"):
        export_tensorboard(record, tmp_path / "tb" / "logs")
    with pytest.raises(InvalidInput, match="experiment name"):
        export_mlflow(record, tmp_path / "mlruns")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "tb").exists()


def test_slurm_refuses_to_prepare_a_crafted_run_folder(tmp_path):
    from engine.slurm import ClusterSettings, submit_job

    with Project.create(tmp_path / "S") as project:
        q = JobQueue(project)
        job_id = q.submit("write_here", {}, backend="slurm")
        with project.transaction() as conn:
            conn.execute("UPDATE jobs SET run_id = '../../outside' WHERE id = ?", (job_id,))
        with pytest.raises(InvalidInput, match="run id '../../outside'"):
            submit_job(project, job_id, ClusterSettings())
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("bad", ["../x", "a/b", "a\\b", "/abs", "x\x00y", ".."])
def test_experiment_and_split_names_are_checked_when_created(tmp_path, bad):
    from engine.errors import InvalidInput
    from engine.experiments import create_experiment
    from engine.splits import create_split
    from engine.store import Project
    from engine.train import RunSpec

    with Project.create(tmp_path / "p.affproj") as project:
        with pytest.raises(InvalidInput, match="split name"):
            create_split(project, name=bad, k=2)
        with pytest.raises(InvalidInput, match="experiment name"):
            spec = RunSpec(project=str(project.path), split="cv", fold=0, model="resnet10t")
            create_experiment(project, bad, spec)
        assert project.query("SELECT COUNT(*) AS n FROM experiments")[0]["n"] == 0
