"""Which GPUs a machine has, without importing torch (the GUI asks too)."""

from __future__ import annotations

import os
import shutil
import subprocess


def visible_gpus(timeout_s: float = 5.0) -> list[str]:
    """Device names (``cuda:0``, ``cuda:1``, ...) of the GPUs this process may use.

    ``CUDA_VISIBLE_DEVICES`` wins when set (empty or ``-1`` means none); otherwise
    ``nvidia-smi`` is asked. No NVIDIA driver, or an error, means no GPUs.
    Each name is the *physical* index that :func:`~engine.jobs.start_worker` puts in
    the worker's ``CUDA_VISIBLE_DEVICES``.
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [p.strip() for p in env.split(",") if p.strip()]
        if not ids or ids[0] == "-1":
            return []
        return [f"cuda:{i}" for i in ids]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=timeout_s, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [f"cuda:{line.strip()}" for line in out.splitlines() if line.strip().isdigit()]


def gpu_names(timeout_s: float = 5.0) -> dict[str, str]:
    """``{"cuda:N": "NVIDIA H100 80GB HBM3", ...}`` for the GPUs :func:`visible_gpus` reports.

    Names come from ``nvidia-smi`` (empty where it cannot say); no driver means ``{}``.
    """
    gpus = visible_gpus(timeout_s)
    smi = shutil.which("nvidia-smi")
    names: dict[str, str] = {}
    if gpus and smi is not None:
        try:
            out = subprocess.run([smi, "--query-gpu=index,name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=timeout_s, check=True).stdout
            names = dict(line.split(", ", 1) for line in out.splitlines() if ", " in line)
        except (OSError, subprocess.SubprocessError):
            pass
    return {dev: names.get(dev.split(":", 1)[1], "").strip() for dev in gpus}
