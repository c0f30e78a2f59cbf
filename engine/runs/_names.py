"""The one check for a name that becomes part of a path (experiment, split, run id).

Experiment and split names, and run ids, end up as folder names: ``runs/<run-id>/``, a
TensorBoard or MLflow export folder per experiment, a Slurm script's path, a report's file
name. A name that could climb out of its folder (``..``, ``/``, ``\\``, an absolute path, NUL)
is refused where it is created and again wherever it is turned into a path, so a name read
from a crafted database cannot make the engine write outside the project either.
"""

from __future__ import annotations

import re

from engine.errors import InvalidInput

MAX_NAME = 100
# ASCII letters and digits first; then also '.', '_', '-', '+', '=', '@' and inner spaces
_SAFE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._+=@ -]*[A-Za-z0-9._+=@-])?")


def safe_name(value: object, what: str = "name") -> str:
    """``value`` when it is safe as one path element; :class:`InvalidInput` saying why otherwise.

    Allowed: ASCII letters, digits, ``. _ - + = @`` and spaces inside, at most
    :data:`MAX_NAME` characters, starting with a letter or digit; never ``..``.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} {value!r}: must be text")
    shown = value if len(value) <= 60 else value[:57] + "..."
    if not value:
        raise InvalidInput(f"{what}: empty; give a name")
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{what} {shown!r}: {len(value)} characters; at most {MAX_NAME}")
    for bad, why in (("\x00", "a NUL character"), ("/", "'/'"), ("\\", "'\\'"), ("..", "'..'")):
        if bad in value:
            raise InvalidInput(f"{what} {shown!r}: contains {why}; a name must stay one folder name")
    if re.match(r"[A-Za-z]:", value):
        raise InvalidInput(f"{what} {shown!r}: looks like a drive path; a name must stay one folder name")
    if not _SAFE.fullmatch(value):
        raise InvalidInput(f"{what} {shown!r}: use letters, digits, '.', '_', '-', '+', '=', '@' and inner "
                           "spaces, starting with a letter or digit")
    return value
