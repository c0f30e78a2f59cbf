"""Which GPUs a machine has, without importing torch (the GUI asks too)."""

from __future__ import annotations

import os
import shutil
import subprocess


def _nvidia_smi(timeout_s: float) -> dict[str, str]:
    """``{index: name}`` of every GPU ``nvidia-smi`` lists; ``{}`` without a driver or on error."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {}
    try:
        out = subprocess.run([smi, "--query-gpu=index,name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=timeout_s, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = (line.split(",", 1) for line in out.splitlines())
    return {r[0].strip(): (r[1].strip() if len(r) > 1 else "") for r in rows if r[0].strip().isdigit()}


def _visible(timeout_s: float) -> tuple[list[str], dict[str, str] | None]:
    """The visible GPUs' indices, and nvidia-smi's names when it had to be asked anyway."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [p.strip() for p in env.split(",") if p.strip()]
        return ([] if not ids or ids[0] == "-1" else ids), None
    names = _nvidia_smi(timeout_s)
    return list(names), names


def visible_gpus(timeout_s: float = 5.0) -> list[str]:
    """Device names (``cuda:0``, ``cuda:1``, ...) of the GPUs this process may use.

    ``CUDA_VISIBLE_DEVICES`` wins when set (empty or ``-1`` means none); otherwise
    ``nvidia-smi`` is asked. No NVIDIA driver, or an error, means no GPUs.
    Each name is the *physical* index that :func:`~engine.jobs.start_worker` puts in
    the worker's ``CUDA_VISIBLE_DEVICES``.
    """
    return [f"cuda:{i}" for i in _visible(timeout_s)[0]]


def gpu_names(timeout_s: float = 5.0) -> dict[str, str]:
    """``{"cuda:N": "NVIDIA H100 80GB HBM3", ...}`` for the GPUs :func:`visible_gpus` reports.

    Names come from ``nvidia-smi`` (empty where it cannot say); no driver means ``{}``.
    """
    ids, names = _visible(timeout_s)
    if ids and names is None:
        names = _nvidia_smi(timeout_s)
    return {f"cuda:{i}": (names or {}).get(i, "") for i in ids}
