"""The package list, the one thing pyproject.toml cannot say; everything else is there.

The app's icons have one copy, the top-level ``resources/`` folder, and the installed app reads
them as the package ``affgui.resources`` (``affgui.icons``). A ``package-dir`` entry in
pyproject.toml alone does not do it: ``[tool.setuptools.packages.find]`` only finds packages in
their own folders, so it never lists ``affgui.resources`` and nothing of it would be installed.
Here the package list is the same discovery (namespace packages included, as pyproject's
``find`` did) plus that one mapped package. A wheel then carries ``affgui/resources/``, and an
editable install's finder maps ``affgui.resources`` to ``resources/`` (tests/test_resources.py
checks both).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["engine*", "affgui*"], exclude=["*.__pycache__"]),
              "affgui.resources"],
    package_dir={"affgui.resources": "resources"},
    # affgui.icons.RESOURCES; not the .ico and .icns, which only the bundle's executable needs.
    package_data={"affgui.resources": ["*.png", "*.svg"]},
)
