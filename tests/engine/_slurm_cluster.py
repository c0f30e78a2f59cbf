"""A real single-node Slurm cluster on localhost for the Slurm tests (Debian ``slurm-wlm`` + ``munge``).

:class:`LocalSlurm` writes its own ``slurm.conf`` and munge key into a temporary folder, starts
``munged``, ``slurmctld`` and ``slurmd`` in the foreground as child processes, and stops them
again. Client commands find the cluster through ``SLURM_CONF`` (see :meth:`LocalSlurm.env`).
Jobs run as root here, so the daemons run as root too (``SlurmUser=root``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")


def missing_reason() -> str | None:
    """Why a local cluster cannot run here, or None when it can."""
    missing = [d for d in DAEMONS if not (shutil.which(d) or Path("/usr/sbin", d).exists())]
    if missing:
        return f"Slurm/munge not installed (missing {', '.join(missing)}; apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the local Slurm cluster needs root (SlurmUser=root, jobs run as root)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exe(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


class LocalSlurm:
    """munged + slurmctld + slurmd on this host, configured under ``root``; one partition ``debug``."""

    def __init__(self, root: str | Path, kill_wait_s: int = 5):
        self.root = Path(root)
        self.kill_wait_s = kill_wait_s
        self.node = socket.gethostname().split(".")[0]
        self.procs: list[subprocess.Popen] = []
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    # -- life cycle ---------------------------------------------------------------
    def start(self, timeout_s: float = 60.0) -> None:
        self._write_files()
        munge = self.root / "munge"
        self._spawn([_exe("munged"), "-F", "--force", f"--socket={self.munge_socket}",
                     f"--key-file={munge / 'munge.key'}", f"--pid-file={munge / 'munged.pid'}",
                     f"--log-file={munge / 'munged.log'}", f"--seed-file={munge / 'munged.seed'}"],
                    "munged.out")
        self._wait(lambda: self.munge_socket.exists(), timeout_s, "munged did not create its socket")
        self._spawn([_exe("slurmctld"), "-D", "-c", "-i", "-f", str(self.conf)], "slurmctld.out")
        self._spawn([_exe("slurmd"), "-D", "-f", str(self.conf), "-N", self.node], "slurmd.out")
        self._wait(self._node_idle, timeout_s, "the Slurm node did not become idle")

    def stop(self) -> None:
        subprocess.run(["scancel", "--full", "--user=root"], env=self._client_env(), capture_output=True,
                       timeout=20, check=False)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()

    def logs(self) -> str:
        """The daemons' log tails, for a failing test's message."""
        out = []
        for name in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out", "munged.out"):
            p = self.root / name
            if p.exists():
                out.append(f"--- {name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:]))
        return "\n".join(out)

    # -- internals ----------------------------------------------------------------
    def _client_env(self) -> dict[str, str]:
        return dict(os.environ) | self.env()

    def _spawn(self, cmd: list[str], out: str) -> None:
        log = open(self.root / out, "ab")
        try:
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, env=self._client_env(),
                                               start_new_session=True))
        finally:
            log.close()

    def _wait(self, ok, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [p.args[0] for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited while starting the cluster\n{self.logs()}")
            if ok():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what} within {timeout_s:.0f} s\n{self.logs()}")

    def _node_idle(self) -> bool:
        res = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self._client_env(), capture_output=True,
                             text=True, timeout=10, check=False)
        return res.returncode == 0 and res.stdout.strip().startswith("idle")

    def _write_files(self) -> None:
        munge = self.root / "munge"
        for sub in (munge, self.root / "state", self.root / "spool"):
            sub.mkdir(parents=True, exist_ok=True)
        os.chmod(munge, 0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        cpus = os.cpu_count() or 1
        mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
        r = self.root
        self.conf.write_text(f"""\
ClusterName=affwbtest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'slurmctld.pid'}
SlurmdPidFile={r / 'slurmd.pid'}
SlurmctldLogFile={r / 'slurmctld.log'}
SlurmdLogFile={r / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
OverTimeLimit=0
KillWait={self.kill_wait_s}
MinJobAge=3600
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
""")
