"""The app's artwork, the one copy in the repository; installed, this folder is ``affgui.resources``.

``setup.py`` maps it to that package: a wheel carries it as ``affgui/resources/``, an editable
install's finder points at this folder, and the PyInstaller spec puts it at
``affgui/resources/`` in the bundle. Read it through :mod:`affgui.icons`
(``importlib.resources``), never by a path relative to a source file. This file only makes the
folder a regular package, which the editable finder and the bundle's importer need.

``affwb.svg`` is the window icon and ``affwb.png`` the Linux desktop entry's; ``affwb.ico``
and ``affwb.icns`` are the executable's icon on Windows and macOS (the spec names them; they
are not installed with the package).
"""
