"""What the New experiment dialog creates: planned experiments, validated, then queued.

Free of Qt so it can be tested and reused; nothing here imports torch or timm (weights
availability is asked of ``affengine weights`` in a child process).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.splits import FoldBalance, Split
    from engine.store import Project
    from engine.train import RunSpec

# The study's usual pairs: a CNN and a transformer of similar size, each pretrained and from scratch.
STUDY_PAIRS = (("resnet50", "vit_base_patch16_224"), ("densenet121", "deit_small_patch16_224"))
WEIGHTS_MODES = ("pretrained", "scratch", "both")
_SUFFIX = re.compile(r"_patch\d+(_window\d+)?_\d+$")


@dataclass(frozen=True)
class PlannedExperiment:
    name: str
    model: str
    pretrained: bool


def short_name(model: str) -> str:
    """``vit_base_patch16_224`` -> ``vit_base``; CNN names stay as they are."""
    return _SUFFIX.sub("", model)


def study_models() -> list[str]:
    """The models of the CNN vs ViT preset, pair by pair."""
    return [m for pair in STUDY_PAIRS for m in pair]


def plan_experiments(models: list[str], weights: str, prefix: str = "") -> list[PlannedExperiment]:
    """One experiment per model and weights choice, named e.g. ``resnet50-imagenet``."""
    if weights not in WEIGHTS_MODES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS_MODES)}, not {weights!r}")
    choices = {"pretrained": (True,), "scratch": (False,), "both": (True, False)}[weights]
    return [PlannedExperiment(f"{prefix}{short_name(m)}-{'imagenet' if p else 'scratch'}", m, p)
            for m in models for p in choices]


def build_specs(project: Project, plans: list[PlannedExperiment], settings: dict,
                weights_available: dict[str, bool] | None = None) -> list[RunSpec]:
    """Validated fold-0 specs of ``plans``; raises ValueError naming every problem.

    ``settings`` holds the shared RunSpec fields (split, epochs, lr, ...). Checked before
    anything is written: names (empty, repeated, already in the project), each spec, and
    pretrained weights known to be missing on this machine.
    """
    from engine.train import RunSpec, SpecError

    if not plans:
        raise ValueError("choose at least one model")
    problems: list[str] = []
    names = [p.name.strip() for p in plans]
    taken = {r[0] for r in project.query("SELECT name FROM experiments")}
    for name in sorted(set(names)):
        if not name:
            problems.append("every experiment needs a name")
        elif names.count(name) > 1:
            problems.append(f"the name {name!r} is planned twice")
        elif name in taken:
            problems.append(f"an experiment named {name!r} already exists")
    specs = []
    for plan in plans:
        try:
            specs.append(RunSpec(project=str(project.path), fold=0, model=plan.model,
                                 pretrained=plan.pretrained, **settings))
        except SpecError as exc:
            problems.append(f"{plan.name}: {str(exc).removeprefix('invalid run spec: ')}")
        if plan.pretrained and weights_available and weights_available.get(plan.model) is False:
            problems.append(f"{plan.name}: {missing_weights_hint(plan.model)}")
    if problems:
        raise ValueError("\n".join(dict.fromkeys(problems)))
    return specs


def create_experiments(project: Project, plans: list[PlannedExperiment], specs: list[RunSpec],
                       backend: str = "local", priority: int = 0, repeats: int | None = None,
                       seeds: int = 1) -> list[str]:
    """Create each planned experiment (one job per repeat, fold and seed); the names created."""
    from engine.experiments import create_experiment

    created = []
    for plan, spec in zip(plans, specs, strict=True):
        create_experiment(project, plan.name.strip(), spec, priority=priority, backend=backend,
                          repeats=repeats, seeds=seeds)
        created.append(plan.name.strip())
    return created


def split_summary(project: Project, name: str) -> tuple[Split, list[FoldBalance]]:
    """The latest version of split ``name`` and its per-fold balance (reads the members: off-thread)."""
    from engine.splits import fold_balance, load_split

    split = load_split(project, name)
    return split, fold_balance(split.plan)


def probe_weights(timeout_s: float = 120.0) -> dict[str, bool]:
    """``model -> weights on this machine`` from ``affengine weights`` run in a child process.

    Finding weights imports timm; a child process keeps torch out of the GUI.
    """
    from engine.jobs import engine_command

    out = subprocess.run(engine_command(["weights"]), capture_output=True, text=True,
                         timeout=timeout_s, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"affengine weights failed: {out.stderr.strip()[-300:]}")
    found = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            found[parts[0]] = parts[1] != "missing"
    return found



def missing_weights_hint(model: str) -> str:
    """Why a pretrained ``model`` is refused and how to fix it: the folder and the commands."""
    from engine.models import weights_dir

    return (f"ImageNet weights for {model} are not on this machine; none in the weights folder "
            f"{weights_dir()}. Put them there with 'Import weights file…' (affengine weights import "
            f"FILE --model {model}) or, on a machine that is online, 'affengine weights fetch {model}'; "
            "or train it from scratch")


def run_engine(args: list[str], timeout_s: float = 600.0) -> str:
    """Run ``affengine ARGS`` in a child process (torch stays out of the GUI); its stdout.

    A refusal raises ValueError with the engine's own one-line message (``affengine: error:``
    removed), so the dialog shows exactly what the CLI would say.
    """
    from engine.jobs import engine_command

    out = subprocess.run(engine_command(args), capture_output=True, text=True, timeout=timeout_s,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("affengine: error:")]
        text = (errors[-1] if errors else (lines[-1] if lines else f"exit status {out.returncode}"))
        raise ValueError(text.removeprefix("affengine: error:").strip())
    return out.stdout


def import_weights_file(file: str, model: str) -> str:
    """``affengine weights import FILE --model MODEL``: checks keys and shapes, stores the file."""
    return run_engine(["weights", "import", str(file), "--model", model]).strip()


@dataclass(frozen=True)
class StudyOptions:
    """The ``affengine study create`` options the dialog's CNN vs ViT Study preset offers."""

    split: str
    quick: bool = False
    repeats: int | None = None  # None: every repeat of the split
    seeds: int = 1
    tune_trials: int = 0
    drop_missing: bool = False
    epochs: int | None = None  # None: the preset's
    backend: str = "local"
    prefix: str = ""
    device: str = "auto"


def study_args(project_path: str, o: StudyOptions) -> list[str]:
    """The ``affengine`` arguments that queue the preset: the CLI's design, option by option."""
    args = ["study", "create", str(project_path), "--preset", "cnn-vs-vit", "--split", o.split,
            "--seeds", str(o.seeds), "--tune-trials", str(o.tune_trials), "--backend", o.backend,
            "--device", o.device]
    if o.quick:
        args.append("--quick")
    if o.repeats:
        args += ["--repeats", str(o.repeats)]
    if o.drop_missing:
        args.append("--drop-missing")
    if o.epochs:
        args += ["--epochs", str(o.epochs)]
    if o.prefix:
        args += ["--prefix", o.prefix]
    return args


def queue_study(project_path: str, options: StudyOptions) -> list[str]:
    """Queue the CNN vs ViT study through ``affengine study create``; the experiment names."""
    out = run_engine(study_args(project_path, options))
    m = re.search(r"queued: (.*?); start workers", out)
    if not m:
        raise ValueError(f"affengine study create said: {out.strip()[-300:]}")
    return [n.strip() for n in m.group(1).split(",") if n.strip()]
