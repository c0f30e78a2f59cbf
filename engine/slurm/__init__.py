"""The Slurm backend: the same jobs as the local workers, run as Slurm jobs (see ``docs/slurm.md``).

The submitting side (GUI or ``affengine slurm``) writes each job's frozen inputs and a
readable batch script into its run folder and calls ``sbatch``; the job writes only to its
run folder; :func:`sync` follows Slurm and the run folder and updates ``project.sqlite``.
Nothing here imports torch.
"""

from engine.slurm._backend import (
    Submission,
    SyncReport,
    cancel_slurm_job,
    has_active_slurm_jobs,
    slurm_log,
    submissions,
    submit_job,
    sync,
)
from engine.slurm._commands import SlurmError
from engine.slurm._inputs import batch_script, read_status
from engine.slurm._node import run_on_node
from engine.slurm._settings import SETTINGS_FILE, ClusterSettings, SettingsError

__all__ = [
    "SETTINGS_FILE",
    "ClusterSettings",
    "SettingsError",
    "SlurmError",
    "Submission",
    "SyncReport",
    "batch_script",
    "cancel_slurm_job",
    "has_active_slurm_jobs",
    "read_status",
    "run_on_node",
    "slurm_log",
    "submissions",
    "submit_job",
    "sync",
]
