"""Whole-file writes in run folders: a reader (a sync, another worker, the GUI) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, not from threads later
    os.umask(mask)
    return mask


UMASK = _read_umask()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename: never half a file.

    The file is readable by the group and others like any file the user writes (mkstemp's
    default is owner-only), so a lab's shared project folder works for all its members.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, 0o644 & ~UMASK)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
