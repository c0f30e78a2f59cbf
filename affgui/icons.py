"""The app's icons, read as package data: the one function the app and its self-test use.

The icons have one copy, the repository's top-level ``resources/`` folder, which is installed as
the package ``affgui.resources`` (``setup.py`` maps the folder to it). A wheel carries it as
``affgui/resources/``; an editable install's finder maps the package to the folder itself; the
PyInstaller spec puts it at ``affgui/resources/`` in the bundle. ``importlib.resources`` finds
it in all three, so nothing here knows where a source file is. Importing this module imports
no Qt.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACKAGE = "affgui.resources"
ICON = "affwb.svg"  # the window icon
# Every file the installation must carry (the PNG is also the Linux desktop entry's icon).
# resources/ also holds affwb.ico and affwb.icns, which only the bundle's executable needs
# (the PyInstaller spec names them); they are not installed.
RESOURCES = ("affwb.svg", "affwb.png")


class ResourceError(RuntimeError):
    """The installation lacks its resources; the message says which and how to fix it."""


def resource_path(name: str) -> Traversable:
    """A traversable for resource ``name`` (``affgui/resources/NAME`` once installed).

    ResourceError when ``affgui.resources`` cannot be imported: the app runs from a source tree
    that was never installed, or from an editable install made before the icons moved to
    ``resources/`` (either way ``pip install -e .`` mends it).
    """
    try:
        folder = resources.files(PACKAGE)
    except ModuleNotFoundError as exc:
        raise ResourceError(f"the package {PACKAGE} (the repository's resources/ folder) is not "
                            f"installed ({exc}): run `pip install -e .` in the repository") from None
    return folder.joinpath(name)


__all__ = ["ICON", "PACKAGE", "RESOURCES", "ResourceError", "resource_path"]
