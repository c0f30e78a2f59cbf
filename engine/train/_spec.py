"""``RunSpec``: one model trained on one fold of a stored split, as frozen, JSON-able config."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path

from engine.errors import InvalidInput

OPTIMIZERS = ("adamw",)
SCHEDULES = ("cosine", "constant")
BALANCE_MODES = ("class_weights", "sampler", "none")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Fields that may differ when a run folder is resumed: where and how fast the run goes, not what
# it computes (a worker that died on one GPU is resumed on another).
EXECUTION_FIELDS = ("device", "num_threads", "progress_every", "compile", "compile_backend", "cuda_graphs",
                    "checkpoint_every_s")
# torch.compile backends: inductor generates kernels (the fast one); aot_eager traces forward and
# backward like inductor but runs them eagerly (a quick check of the compiled path, e.g. in tests)
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")
LR_SCALING_RULES = ("linear", "sqrt")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_PATCH = re.compile(r"patch(\d+)")


class SpecError(InvalidInput):
    """A run spec that cannot run as given; the message names every problem."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides one training run. See ``docs/training.md`` for each field.

    ``image_size=None`` uses the registry's input size; ``split_version=None`` the
    latest version of ``split`` when the run starts (``config.json`` records which).
    """

    project: str
    split: str
    fold: int
    model: str
    split_version: int | None = None
    repeat: int = 0  # which of the split's repeated partitions ``fold`` is in (0 for one-repeat splits)
    pretrained: bool = True
    weights_file: str | None = None
    image_size: int | None = None
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adamw"
    schedule: str = "cosine"
    lr: float = 3e-4
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    augment: float = 0.5
    orientation: str = "canonical"  # lateral cortex on the image left, no random flips; "as-is": neither
    drop_path: float = 0.0  # stochastic depth rate (timm drop_path_rate)
    layer_decay: float | None = None  # layer-wise lr decay for fine-tuning (BEiT); None: one rate
    recipe: str | None = None  # the family recipe these values came from (engine.train.apply_recipe)
    tune_trials: int = 0  # Optuna trials on inner folds before training (engine.tune); 0: no tuning
    tune_inner_folds: int = 2
    balance: str = "class_weights"
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    compile_backend: str = "inductor"
    cuda_graphs: bool = False  # with compile on a CUDA GPU: mode "reduce-overhead" (CUDA graphs)
    lr_scaling: str | None = None  # how lr followed a changed batch size (engine.train.throughput_spec)
    seed: int = 0
    patience: int = 0
    device: str = "auto"
    num_threads: int | None = None
    deterministic: bool = False
    progress_every: int = 20
    checkpoint_every_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("project", "weights_file"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        for name in ("lr", "weight_decay", "warmup_epochs", "augment", "checkpoint_every_s", "drop_path"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        problems = _problems(self)
        if problems:
            raise SpecError("invalid run spec: " + "; ".join(problems))

    # -- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        """A plain dict that ``json.dumps`` writes and :meth:`from_json` reads back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict | str) -> RunSpec:
        """The spec from :meth:`to_json`'s dict (or its JSON text); unknown keys are an error."""
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise SpecError(f"a run spec is a JSON object, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown run spec field(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(known))}")
        missing = [f.name for f in fields(cls)
                   if f.default is dataclasses.MISSING and f.name not in data]
        if missing:
            raise SpecError(f"run spec lacks required field(s) {', '.join(missing)}")
        if "orientation" not in data:  # written before canonical orientation: it trained as-is
            data = {**data, "orientation": "as-is"}
        return cls(**data)

    # -- variants -------------------------------------------------------------------------
    def replace(self, **changes) -> RunSpec:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def for_fold(self, fold: int, repeat: int | None = None, seed: int | None = None) -> RunSpec:
        """The same experiment on another fold (of another repeat, with another training seed)."""
        changes: dict = {"fold": fold}
        if repeat is not None:
            changes["repeat"] = repeat
        if seed is not None:
            changes["seed"] = seed
        return dataclasses.replace(self, **changes)

    def label(self) -> str:
        """``r<repeat>f<fold>s<seed>``, the one way a run is named to a person."""
        from engine.runs import run_label

        return run_label(self.repeat, self.fold, self.seed)

    def run_name(self) -> str:
        """A readable folder name, e.g. ``resnet50-default_v2-r0f0s0``."""
        version = "latest" if self.split_version is None else str(self.split_version)
        return f"{self.model}-{self.split}_v{version}-{self.label()}"

    def differences(self, other: RunSpec, ignore: tuple[str, ...] = ()) -> list[str]:
        """``field: mine != theirs`` for every field that differs (except ``ignore``)."""
        return [f"{f.name}: {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
                for f in fields(self)
                if f.name not in ignore and getattr(self, f.name) != getattr(other, f.name)]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _choice(problems: list[str], name: str, value, options: tuple[str, ...]) -> None:
    if value not in options:
        problems.append(f"{name} {value!r} is not one of {', '.join(options)}")


def _problems(s: RunSpec) -> list[str]:  # noqa: C901 - one flat list of checks reads best
    from engine.models import UnknownModelError, get_entry

    p: list[str] = []
    if not isinstance(s.project, str) or not s.project:
        p.append("project must be the project folder's path")
    if not isinstance(s.split, str) or not s.split:
        p.append("split must be a split name")
    if s.split_version is not None and not (_is_int(s.split_version) and s.split_version >= 1):
        p.append(f"split_version must be a version number >= 1 or null, not {s.split_version!r}")
    if not (_is_int(s.fold) and s.fold >= 0):
        p.append(f"fold must be an integer >= 0, not {s.fold!r}")
    if not (_is_int(s.repeat) and s.repeat >= 0):
        p.append(f"repeat must be an integer >= 0, not {s.repeat!r}")
    entry = None
    try:
        entry = get_entry(s.model)
    except UnknownModelError as exc:
        p.append(str(exc))
    except TypeError:
        p.append(f"model must be a registered model name, not {s.model!r}")
    if not isinstance(s.pretrained, bool):
        p.append("pretrained must be true or false")
    if s.weights_file is not None and not s.pretrained:
        p.append("weights_file is only used with pretrained=true")
    if s.image_size is not None:
        if not (_is_int(s.image_size) and 32 <= s.image_size <= 2048):
            p.append(f"image_size must be an integer from 32 to 2048 (or null), not {s.image_size!r}")
        elif entry is not None and entry.family != "cnn":
            m = _PATCH.search(entry.timm_name)
            if m and s.image_size % int(m.group(1)):
                p.append(f"image_size {s.image_size} is not a multiple of {s.model}'s patch size "
                         f"{m.group(1)}")
    if not (_is_int(s.epochs) and 1 <= s.epochs <= 10_000):
        p.append(f"epochs must be an integer from 1 to 10000, not {s.epochs!r}")
    if not (_is_int(s.batch_size) and s.batch_size >= 1):
        p.append(f"batch_size must be an integer >= 1, not {s.batch_size!r}")
    _choice(p, "optimizer", s.optimizer, OPTIMIZERS)
    _choice(p, "schedule", s.schedule, SCHEDULES)
    if not (_is_num(s.lr) and 0 < s.lr < 10):
        p.append(f"lr must be a number in (0, 10), not {s.lr!r}")
    if not (_is_num(s.weight_decay) and s.weight_decay >= 0):
        p.append(f"weight_decay must be a number >= 0, not {s.weight_decay!r}")
    if not (_is_num(s.checkpoint_every_s) and s.checkpoint_every_s >= 0):
        p.append(f"checkpoint_every_s must be a number >= 0, not {s.checkpoint_every_s!r}")
    if not (_is_num(s.warmup_epochs) and s.warmup_epochs >= 0):
        p.append(f"warmup_epochs must be a number >= 0, not {s.warmup_epochs!r}")
    elif _is_int(s.epochs) and s.epochs >= 1 and s.warmup_epochs > s.epochs:
        p.append(f"warmup_epochs ({s.warmup_epochs:g}) is longer than the run ({s.epochs} epochs)")
    if not (_is_num(s.augment) and 0 <= s.augment <= 1):
        p.append(f"augment (strength) must be a number from 0 to 1, not {s.augment!r}")
    _choice(p, "orientation", s.orientation, ("canonical", "as-is"))
    if not (_is_num(s.drop_path) and 0 <= s.drop_path < 1):
        p.append(f"drop_path must be a number in [0, 1), not {s.drop_path!r}")
    if not (_is_int(s.tune_trials) and 0 <= s.tune_trials <= 1000):
        p.append(f"tune_trials must be an integer from 0 to 1000, not {s.tune_trials!r}")
    if not (_is_int(s.tune_inner_folds) and 2 <= s.tune_inner_folds <= 10):
        p.append(f"tune_inner_folds must be an integer from 2 to 10, not {s.tune_inner_folds!r}")
    if s.layer_decay is not None and not (_is_num(s.layer_decay) and 0 < s.layer_decay <= 1):
        p.append(f"layer_decay must be a number in (0, 1] or null, not {s.layer_decay!r}")
    _choice(p, "balance", s.balance, BALANCE_MODES)
    _choice(p, "precision", s.precision, PRECISIONS)
    if s.channels_last not in (None, True, False):
        p.append("channels_last must be true, false or null (auto)")
    if not isinstance(s.compile, bool):
        p.append("compile must be true or false")
    _choice(p, "compile_backend", s.compile_backend, COMPILE_BACKENDS)
    if not isinstance(s.cuda_graphs, bool):
        p.append("cuda_graphs must be true or false")
    if s.lr_scaling is not None and not isinstance(s.lr_scaling, str):
        p.append("lr_scaling must be text or null")
    if not (_is_int(s.seed) and 0 <= s.seed < 2**63):
        p.append(f"seed must be an integer >= 0, not {s.seed!r}")
    if not (_is_int(s.patience) and s.patience >= 0):
        p.append(f"patience must be an integer >= 0 (0 = no early stopping), not {s.patience!r}")
    if not (isinstance(s.device, str) and _DEVICE.match(s.device)):
        p.append(f"device must be auto, cpu, cuda or cuda:N, not {s.device!r}")
    if s.num_threads is not None and not (_is_int(s.num_threads) and s.num_threads >= 1):
        p.append(f"num_threads must be an integer >= 1 or null, not {s.num_threads!r}")
    if not isinstance(s.deterministic, bool):
        p.append("deterministic must be true or false")
    if not (_is_int(s.progress_every) and s.progress_every >= 1):
        p.append(f"progress_every must be an integer >= 1, not {s.progress_every!r}")
    return p
