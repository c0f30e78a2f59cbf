"""One typed settings object, stored as JSON in the user config folder.

The folders come from platformdirs and can be moved with environment variables
(tests and CI point them at a temporary folder):

``AFFWB_CONFIG_DIR``
    settings (``settings.json``); default ``user_config_path("aff-workbench")``.
``AFFWB_DATA_DIR``
    application data such as the demo project; default ``user_data_path("aff-workbench")``.

The settings are read on first use (:func:`get_settings`) and written by
:func:`save_settings`; :func:`reset_settings` forgets the loaded copy.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "aff-workbench"
SETTINGS_VERSION = 1
MAX_RECENT = 10
_LIST_ITEMS = {"recent_projects": str, "splitter_sizes": int}  # element types of list fields
_log = logging.getLogger(__name__)


def config_dir() -> Path:
    """The folder that holds ``settings.json``."""
    env = os.environ.get("AFFWB_CONFIG_DIR")
    return Path(env).expanduser() if env else platformdirs.user_config_path(APP_NAME)


def data_dir() -> Path:
    """The folder that holds application data (the demo project)."""
    env = os.environ.get("AFFWB_DATA_DIR")
    return Path(env).expanduser() if env else platformdirs.user_data_path(APP_NAME)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def demo_project_path() -> Path:
    """Where the built-in demo project lives (built on first ``affgui --demo``)."""
    return data_dir() / "demo" / "Demo.affproj"


def default_reader() -> str:
    """The OS user name, the default name recorded with every label change."""
    try:
        return getpass.getuser() or "reader"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "reader"


@dataclass
class Settings:
    """Everything the application remembers between runs."""

    version: int = SETTINGS_VERSION
    reader: str = field(default_factory=default_reader)
    recent_projects: list[str] = field(default_factory=list)
    auto_advance: bool = True
    auto_start_workers: bool = True  # start a local worker when experiments are queued
    reopen_last_project: bool = True
    window_geometry: str = ""
    window_state: str = ""
    splitter_sizes: list[int] = field(default_factory=list)
    # action name -> key sequence text ("Q", "Shift+A"); only keys the reader changed
    key_bindings: dict[str, str] = field(default_factory=dict)

    def add_recent(self, path: str | Path) -> None:
        """Put ``path`` first in the recent-project list (no duplicates, at most MAX_RECENT)."""
        path = str(Path(path))
        self.recent_projects = [path] + [p for p in self.recent_projects if p != path]
        del self.recent_projects[MAX_RECENT:]

    def remove_recent(self, path: str | Path) -> None:
        self.recent_projects = [p for p in self.recent_projects if p != str(Path(path))]

    @property
    def last_project(self) -> str | None:
        return self.recent_projects[0] if self.recent_projects else None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        """Settings from stored JSON: unknown keys are dropped, mistyped values fall back."""
        defaults = cls()
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value, default = data[f.name], getattr(defaults, f.name)
            if f.name in _LIST_ITEMS:
                ok = isinstance(value, list) and all(isinstance(v, _LIST_ITEMS[f.name]) for v in value)
            elif isinstance(default, dict):
                ok = isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            else:
                ok = isinstance(value, type(default))
            if ok:
                kwargs[f.name] = value
            else:
                _log.info("settings: ignoring %s=%r (expected %s)", f.name, value,
                          type(default).__name__)
        kwargs["version"] = SETTINGS_VERSION
        return cls(**kwargs)


_settings: Settings | None = None


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; a missing or unreadable file gives the defaults."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        _log.warning("settings: %s is unreadable (%s); using defaults", path, exc)
        return Settings()
    return Settings.from_dict(data) if isinstance(data, dict) else Settings()


def get_settings() -> Settings:
    """The application's settings, read from disk on first use."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def save_settings(settings: Settings | None = None) -> Path:
    """Write the settings atomically (a crash never leaves half a file)."""
    settings = settings or get_settings()
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(settings.to_json())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def reset_settings() -> None:
    """Forget the loaded settings; the next :func:`get_settings` reads the file again."""
    global _settings
    _settings = None
