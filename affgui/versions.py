"""What ``affgui --version`` prints: the versions of the app, torch, timm and Qt, and the GPUs seen.

No torch import (that would take seconds, and the GUI never imports it): torch's and timm's
versions come from their installed metadata (a bundle carries it), the GPUs from
``engine.jobs.visible_gpus``.
"""

from __future__ import annotations

from importlib import metadata

from affgui import __version__


def dist_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``not installed``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def torch_build() -> str:
    """``CUDA build`` or ``CPU-only build`` of the installed torch, from its metadata; '' if unknown."""
    version = dist_version("torch")
    if "+cpu" in version:
        return "CPU-only build"
    try:
        requires = metadata.requires("torch") or []
    except metadata.PackageNotFoundError:
        return ""
    if "+cu" in version or any(r.lower().startswith("nvidia-") for r in requires):
        return "CUDA build"
    return ""


def version_lines() -> list[str]:
    """One line per component: ``affgui X``, ``torch X``, ``timm X``, ``Qt X (PySide6 Y)``, ``GPU: ...``."""
    import PySide6
    from PySide6.QtCore import qVersion

    from engine.jobs import gpu_names

    gpus = [f"{dev} ({name})" if name else dev for dev, name in gpu_names().items()]
    build = torch_build()
    return [
        f"affgui {__version__}",
        f"torch {dist_version('torch')}" + (f" ({build})" if build else ""),
        f"timm {dist_version('timm')}",
        f"Qt {qVersion()} (PySide6 {PySide6.__version__})",
        f"GPU: {', '.join(gpus)}" if gpus else "GPU: none seen (training runs on the CPU)",
    ]


__all__ = ["dist_version", "torch_build", "version_lines"]
