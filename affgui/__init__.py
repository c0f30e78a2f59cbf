"""AFF Workbench desktop front end (PySide6, pyqtgraph): shows and edits, never computes.

Importing ``affgui`` does not import Qt; the Qt modules load with the window.
"""

import engine

__version__ = engine.__version__

__all__ = ["__version__"]
