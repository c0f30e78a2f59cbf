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
            problems.append(f"{plan.name}: ImageNet weights for {plan.model} are not on this machine "
                            "(put them in the weights folder, or train it from scratch)")
    if problems:
        raise ValueError("\n".join(dict.fromkeys(problems)))
    return specs


def create_experiments(project: Project, plans: list[PlannedExperiment], specs: list[RunSpec],
                       backend: str = "local", priority: int = 0) -> list[str]:
    """Create each planned experiment (one job per fold); returns the names created."""
    from engine.experiments import create_experiment

    created = []
    for plan, spec in zip(plans, specs, strict=True):
        create_experiment(project, plan.name.strip(), spec, priority=priority, backend=backend)
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

