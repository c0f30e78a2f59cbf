"""The Slurm client commands the backend runs: ``sbatch``, ``squeue``, ``sacct``, ``scancel``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from engine.errors import EngineError

TIMEOUT_S = 60.0
# Slurm states after which a job no longer runs (squeue --states=all and sacct spell them so).
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL",
            "OUT_OF_MEMORY", "DEADLINE", "SPECIAL_EXIT", "REVOKED")
# States in which Slurm itself will start the job again (nothing for us to do).
WAITING = ("PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SUSPENDED", "STOPPED",
           "CONFIGURING", "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD")
GONE = "GONE"  # Slurm no longer knows the job (purged, no accounting)


class SlurmError(EngineError, RuntimeError):
    """A Slurm command failed or is missing; the message says which and why."""


def _run(args: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which(args[0])
    if exe is None:
        raise SlurmError(f"{args[0]} not found: this machine has no Slurm client commands "
                         "(run the workbench on the cluster's login node, or install slurm-client)")
    try:
        res = subprocess.run([exe, *args[1:]], cwd=cwd, capture_output=True, text=True,
                             timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(args[:2])}: no answer within {TIMEOUT_S:.0f} s") from None
    except OSError as exc:  # a broken wrapper script or interpreter line
        raise SlurmError(f"{args[0]}: cannot run {exe}: {exc.strerror or exc}") from None
    if check and res.returncode != 0:
        raise SlurmError(f"{' '.join(args[:2])} failed ({res.returncode}): "
                         f"{(res.stderr or res.stdout).strip() or 'no message'}")
    return res


def sbatch(script: Path, cwd: Path) -> str:
    """Submit ``script`` from ``cwd`` (the job's working directory); returns the Slurm job id."""
    out = _run(["sbatch", "--parsable", str(script)], cwd=cwd).stdout.strip()
    slurm_id = out.split(";", 1)[0].strip()
    if not slurm_id.isdigit():
        raise SlurmError(f"sbatch answered {out!r}, not a job id")
    return slurm_id


def scancel(slurm_id: str) -> None:
    _run(["scancel", str(slurm_id)])


def job_states(slurm_ids: list[str]) -> dict[str, str]:
    """Slurm's state of each id: squeue first (includes recently ended jobs), then sacct.

    Ids that neither knows (purged from the controller, no accounting database) are
    reported as :data:`GONE`; the caller then goes by the run folder's status file.
    """
    ids = [str(i) for i in slurm_ids]
    states: dict[str, str] = {}
    if not ids:
        return states
    res = _run(["squeue", "-h", "--states=all", "-o", "%i|%T", "-j", ",".join(ids)], check=False)
    _unanswered(res)
    if res.returncode != 0 and len(ids) > 1:  # an unknown id fails the whole call: ask one by one
        for one in ids:
            states.update(_squeue_one(one))
    elif res.returncode == 0:
        states.update(_parse(res.stdout))
    missing = [i for i in ids if i not in states]
    if missing and shutil.which("sacct"):
        res = _run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(missing)], check=False)
        if res.returncode == 0:
            states.update({k: v for k, v in _parse(res.stdout).items() if k in missing})
    return {i: states.get(i, GONE) for i in ids}


def _squeue_one(slurm_id: str) -> dict[str, str]:
    res = _run(["squeue", "-h", "--states=all", "-o", "%i|%T", "-j", slurm_id], check=False)
    _unanswered(res)
    return _parse(res.stdout) if res.returncode == 0 else {}


def _unanswered(res: subprocess.CompletedProcess) -> None:
    """Raise unless squeue answered: only "Invalid job id" means Slurm no longer knows a job.

    A controller that cannot be reached must not read as "every job is gone": the caller
    would resubmit running jobs and fail pending ones.
    """
    if res.returncode != 0 and "invalid job id" not in f"{res.stderr}{res.stdout}".lower():
        raise SlurmError(f"squeue failed ({res.returncode}): "
                         f"{(res.stderr or res.stdout).strip() or 'no message'}")


def _parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "|" in line:
            job, state = line.split("|", 1)
            # sacct writes "CANCELLED by 0"; array/het suffixes are not ours
            out[job.strip()] = state.strip().split()[0] if state.strip() else GONE
    return out
