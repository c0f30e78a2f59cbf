"""What the submitter puts into a run folder before ``sbatch``: the job's frozen inputs and its script.

``runs/<run-id>/slurm/`` holds

``job.json``
    the job (id, kind, spec, device) as the node runs it;
``project.affproj/``
    a read-only *snapshot* of the project for the node: ``project.sqlite`` copied with
    SQLite's backup API, ``cache/images`` and ``runs`` linked (relative links) to the
    project's own folders. The node opens this copy, never the live database;
``job.sbatch``
    the readable batch script, written again for each submission from the current settings;
``slurm-<id>.log``
    Slurm's log of each submission; ``status.json`` the node runner's last word.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
from pathlib import Path

from engine.runs import RunFolder, write_atomic
from engine.slurm._settings import ClusterSettings
from engine.store import utc_now

SLURM_DIR = "slurm"
JOB_FILE = "job.json"
SCRIPT = "job.sbatch"
STATUS = "status.json"
SNAPSHOT = "project.affproj"
LOG_PATTERN = "slurm-%j.log"


def slurm_dir(run_dir: Path) -> Path:
    return Path(run_dir) / SLURM_DIR


def log_path(run_dir: Path, slurm_id: str) -> Path:
    return slurm_dir(run_dir) / LOG_PATTERN.replace("%j", str(slurm_id))




def prepare_inputs(project, job, device: str) -> Path:
    """Write ``job.json`` and the project snapshot for ``job`` (once; a resubmission reuses them).

    A resubmission keeps the snapshot but runs on ``device``, what the current settings ask for.
    """
    run_dir = RunFolder.of(project, job.run_id).path
    folder = slurm_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot = folder / SNAPSHOT
    try:
        data = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        data = None  # none yet, or unreadable: written again below
    if isinstance(data, dict) and (snapshot / "project.sqlite").exists():
        if data.get("device") != device:
            write_atomic(folder / JOB_FILE, json.dumps(data | {"device": device}, indent=2, sort_keys=True))
    else:
        _snapshot(project, snapshot)
        spec = dict(job.spec)
        if "project" in spec:
            spec["project"] = str(snapshot)
        write_atomic(folder / JOB_FILE, json.dumps({
            "job_id": job.id, "kind": job.kind, "fold": job.fold, "experiment_id": job.experiment_id,
            "run_id": job.run_id, "spec": spec, "device": device, "project": str(project.path),
            "written_at": utc_now()}, indent=2, sort_keys=True))
    return folder


def _snapshot(project, target: Path) -> None:
    """A consistent copy of the database plus relative links to the shared cache and runs."""
    target.mkdir(parents=True, exist_ok=True)
    db = target / "project.sqlite"
    tmp = target / ".project.sqlite.tmp"
    tmp.unlink(missing_ok=True)
    # as_uri() percent-encodes the path: a raw '#', '?' or '%' in a folder name would cut the URI
    # short and open (create) some other file
    src = sqlite3.connect(f"{Path(project.db_path).resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        dst.close()
        src.close()
    os.replace(tmp, db)
    cache = target / "cache"
    cache.mkdir(exist_ok=True)
    for link, real in ((cache / "images", project.cache_dir / "images"), (target / "runs", project.runs_dir)):
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(real, link.parent), target_is_directory=True)


def batch_script(settings: ClusterSettings, run_dir: Path, job, engine_cmd: list[str]) -> str:
    """The batch script that runs ``job``; submitted from the run folder, its working directory."""
    what = f"{job.kind} job {job.id}" + (f", fold {job.fold}" if job.fold is not None else "")
    lines = [
        "#!/bin/bash",
        f"# AFF Workbench: {what} (run {job.run_id}).",
        "# Written by the submitting side (GUI or `affengine slurm`) for each submission; the job",
        "# writes only to its run folder, never to project.sqlite. Edit the project's cluster",
        "# settings (slurm.json), not this file.",
        f"#SBATCH --job-name=affwb-{job.id}",
        f"#SBATCH --output={SLURM_DIR}/{LOG_PATTERN}",
        "#SBATCH --open-mode=append",
    ]
    lines += [f"#SBATCH {opt}" for opt in settings.sbatch_options()]
    lines += ["", "set -eo pipefail", 'echo "affwb: job $SLURM_JOB_ID on $(hostname) at $(date -Is)"']
    if settings.setup.strip():
        lines += ["# cluster-side set-up (cluster settings: setup)", settings.setup.strip()]
    command = settings.command.strip() or shlex.join(engine_cmd)
    lines += [f"exec {command} slurm exec {shlex.quote(str(run_dir))}", ""]
    return "\n".join(lines)


def read_status(run_dir: Path) -> dict:
    """The node runner's ``status.json`` ({} when it never wrote one or it cannot be read)."""
    try:
        return json.loads((slurm_dir(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def write_status(run_dir: Path, **status) -> None:
    write_atomic(slurm_dir(run_dir) / STATUS, json.dumps(status | {"at": utc_now()}, sort_keys=True))
