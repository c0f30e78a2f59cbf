"""A project's cluster settings: ``PROJECT/slurm.json``, read by the GUI, the CLI and the login node."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from engine.errors import InvalidInput

SETTINGS_FILE = "slurm.json"
_NAME = re.compile(r"^[A-Za-z0-9_.,-]*$")
_TIME = re.compile(r"^\d+(-\d+)?(:\d+){0,2}$")
_MEM = re.compile(r"^\d+[KMGT]?$")
_OWN_OPTIONS = ("--output", "--error", "-o", "-e", "--chdir", "-D", "--job-name", "-J", "--open-mode")


class SettingsError(InvalidInput):
    """Cluster settings that cannot be used; the message names every problem."""


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how a project's Slurm jobs run (``#SBATCH`` options and the cluster-side command).

    ``extra`` holds further ``#SBATCH`` lines (``--constraint=a100``); ``setup`` is shell text
    run before the engine (``module load cuda; source ~/affwb/bin/activate``); ``command`` is
    the engine command on the cluster (``python -m engine``, or a bundle's ``... --engine``),
    empty for the submitter's own interpreter. ``signal_grace_s`` asks Slurm for SIGTERM that
    long before the time limit so a run writes its checkpoint; ``max_submissions`` bounds how
    often a timed-out or pre-empted job is submitted again.
    """

    partition: str = ""
    account: str = ""
    qos: str = ""
    gpus: int = 0
    cpus: int = 4
    mem: str = "16G"
    time: str = "04:00:00"
    extra: tuple[str, ...] = ()
    setup: str = ""
    command: str = ""
    signal_grace_s: int = 120
    max_submissions: int = 4

    # -- checks ---------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every problem with these settings, one message each (empty when usable)."""
        p = []
        for name in ("partition", "account", "qos"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _NAME.match(value):
                p.append(f"{name} {value!r}: letters, digits, '_', '-', '.' and ',' only")
        for name, low in (("gpus", 0), ("cpus", 1), ("signal_grace_s", 0), ("max_submissions", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                p.append(f"{name} {value!r}: a whole number >= {low}")
        if not isinstance(self.mem, str) or not _MEM.match(self.mem):
            p.append(f"mem {self.mem!r}: a size such as 16G, 8000M or 0 (all of the node's memory)")
        if not isinstance(self.time, str) or not _TIME.match(self.time):
            p.append(f"time {self.time!r}: a Slurm time limit such as 04:00:00, 90 or 1-12:00:00")
        for line in self.extra:
            option = self.extra_option(line)
            if not option.startswith("-") or "\n" in line:
                p.append(f"extra line {line!r}: an sbatch option such as --constraint=a100")
            elif option.split("=", 1)[0].split()[0] in _OWN_OPTIONS:
                p.append(f"extra line {line!r}: the workbench sets {option.split('=')[0]} itself "
                         "(the log and working folder are the job's run folder)")
        for name in ("setup", "command"):
            if not isinstance(getattr(self, name), str):
                p.append(f"{name}: text expected")
        if isinstance(self.command, str) and "\n" in self.command:
            p.append("command: one line (put set-up lines into setup)")
        return p

    def check(self) -> ClusterSettings:
        problems = self.problems()
        if problems:
            raise SettingsError("cluster settings: " + "; ".join(problems))
        return self

    @staticmethod
    def extra_option(line: str) -> str:
        """``#SBATCH --x=1`` or ``--x=1`` -> ``--x=1``."""
        line = line.strip()
        return line[len("#SBATCH"):].strip() if line.upper().startswith("#SBATCH") else line

    def time_seconds(self) -> int:
        """The time limit in seconds (Slurm's formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S)."""
        days, _, rest = self.time.rpartition("-")
        parts = [int(x) for x in rest.split(":")]
        if days:
            h, m, s = (parts + [0, 0])[:3]
            return ((int(days) * 24 + h) * 60 + m) * 60 + s
        if len(parts) == 1:
            return parts[0] * 60
        if len(parts) == 2:
            return parts[0] * 60 + parts[1]
        return (parts[0] * 60 + parts[1]) * 60 + parts[2]

    def sbatch_options(self) -> list[str]:
        """The ``#SBATCH`` options these settings ask for, in a stable order."""
        opts = []
        for name in ("partition", "account", "qos"):
            if getattr(self, name):
                opts.append(f"--{name}={getattr(self, name)}")
        opts += ["--nodes=1", "--ntasks=1", f"--cpus-per-task={self.cpus}", f"--mem={self.mem}",
                 f"--time={self.time}"]
        if self.gpus:
            opts.append(f"--gpus={self.gpus}")
        if self.signal_grace_s and self.signal_grace_s < self.time_seconds():
            opts.append(f"--signal=B:TERM@{self.signal_grace_s}")
        opts += [self.extra_option(line) for line in self.extra]
        return opts

    # -- storage --------------------------------------------------------------------
    def to_json(self) -> dict:
        d = asdict(self)
        d["extra"] = list(self.extra)
        return d

    @classmethod
    def from_json(cls, data: dict, where: str = "cluster settings") -> ClusterSettings:
        if not isinstance(data, dict):
            raise SettingsError(f"{where}: a JSON object expected")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"{where}: unknown setting(s) {', '.join(unknown)} "
                                f"(known: {', '.join(sorted(known))})")
        data = dict(data)
        if "extra" in data:
            if not isinstance(data["extra"], list | tuple):
                raise SettingsError(f"{where}: extra must be a list of #SBATCH lines")
            data["extra"] = tuple(str(x) for x in data["extra"] if str(x).strip())
        settings = cls(**data)
        problems = settings.problems()
        if problems:
            raise SettingsError(f"{where}: " + "; ".join(problems))
        return settings

    def replace(self, **changes) -> ClusterSettings:
        return replace(self, **changes)

    @staticmethod
    def path(project) -> Path:
        """``slurm.json`` of a project (a :class:`~engine.store.Project` or its folder)."""
        return Path(getattr(project, "path", project)) / SETTINGS_FILE

    @classmethod
    def load(cls, project) -> ClusterSettings:
        """The project's settings; the defaults when it has none yet."""
        path = cls.path(project)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read cluster settings: {exc}") from None
        return cls.from_json(data, str(path))

    def save(self, project) -> Path:
        """Check and write the settings atomically (a reader never sees half a file)."""
        self.check()
        path = self.path(project)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".slurm-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_json(), fh, indent=2)
                fh.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
