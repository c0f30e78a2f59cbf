"""Turn a spec's ``auto`` choices into concrete ones for this machine, and set up the process."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch

from engine.models import get_entry
from engine.train._spec import RunSpec, SpecError


@dataclass(frozen=True)
class Resolved:
    """The concrete settings a run uses (recorded in ``config.json``)."""

    device: str
    device_name: str
    family: str
    image_size: int
    precision: str
    channels_last: bool
    compile: bool
    compile_backend: str | None
    cuda_graphs: bool
    fused_optimizer: bool
    num_threads: int
    deterministic: bool

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    @property
    def device_type(self) -> str:
        return torch.device(self.device).type

    def autocast(self):
        """The autocast context of this precision (a no-op for fp32)."""
        dtype = self.amp_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=dtype)

    def to_json(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the first GPU when there is one, else the CPU; checks that a GPU exists."""
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpecError(f"device {name!r}: no CUDA GPU is available here (use cpu or auto)")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise SpecError(f"device {name!r}: only {torch.cuda.device_count()} GPU(s) here")
        device = torch.device("cuda", index)
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    return f"CPU {model} ({os.cpu_count()} cores)"


def resolve(spec: RunSpec) -> Resolved:
    """Concrete device, precision, layout and image size for ``spec`` on this machine."""
    entry = get_entry(spec.model)
    device = resolve_device(spec.device)
    cuda = device.type == "cuda"
    precision = spec.precision
    if precision == "auto":
        # Pre-Ampere GPUs lack bf16; fp16 with a gradient scaler is their fast path.
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if precision == "fp16" and not cuda:
        raise SpecError("precision fp16 needs a CUDA GPU (use bf16 or fp32 on the CPU)")
    channels_last = spec.channels_last if spec.channels_last is not None else (cuda and entry.family == "cnn")
    # CUDA graphs only where they fit: a compiled model (inductor) on a CUDA GPU. Every training
    # step has the same shape (full batches only), so one graph serves the whole run; on the CPU
    # the flag is recorded as off and nothing changes.
    cuda_graphs = bool(spec.cuda_graphs and spec.compile and cuda and spec.compile_backend == "inductor")
    return Resolved(
        device=str(device), device_name=device_name(device), family=entry.family,
        image_size=spec.image_size or entry.input_size, precision=precision,
        channels_last=bool(channels_last), compile=spec.compile,
        compile_backend=spec.compile_backend if spec.compile else None, cuda_graphs=cuda_graphs,
        fused_optimizer=cuda,  # fused AdamW kernels: CUDA only here (the CPU path stays as it was)
        num_threads=spec.num_threads or torch.get_num_threads(), deterministic=spec.deterministic,
    )


def versions() -> dict:
    import numpy
    import sklearn
    import timm

    import engine

    return {"engine": engine.__version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "timm": timm.__version__, "numpy": numpy.__version__, "sklearn": sklearn.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available()
            else None}


@contextlib.contextmanager
def run_environment(resolved: Resolved) -> Iterator[None]:
    """Threads, determinism and RNG for one run; the caller's settings come back afterwards."""
    device = torch.device(resolved.device)
    saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
             torch.backends.cudnn.benchmark, torch.get_float32_matmul_precision())
    try:
        torch.set_num_threads(resolved.num_threads)
        if resolved.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        elif device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.set_float32_matmul_precision("high")  # TF32 for fp32 matmuls
        with torch.random.fork_rng(devices=[device.index] if device.type == "cuda" else []):
            yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1])
        torch.backends.cudnn.benchmark = saved[2]
        torch.set_float32_matmul_precision(saved[3])
