"""Work-arounds for bugs in the Qt binding, applied once at start-up.

PySide6 6.12.0 on Python < 3.12 hands the singletons ``None``, ``True`` and
``False`` to Python without taking a reference to them: every void method
(``painter.save()``, ``setPen()``, ``setObjectName()``...) drops a reference to
``None``, and every ``bool`` a signal delivers to a Python slot (``triggered``,
``toggled``...) drops one to ``True``/``False``. After some 10,000-100,000 such
calls -- minutes of painting and clicking -- Python aborts with "deallocating
None" (or "True or False"). Python 3.12 made these objects immortal, which hides
the bug there; PySide6 6.11 is not affected.

:func:`guard_singleton_refcounts` detects the bug and gives each affected
singleton so many extra references that it can never reach zero. It does
nothing on a fixed binding or on Python >= 3.12.
"""

from __future__ import annotations

import ctypes
import sys

_EXTRA_REFS = 1 << 50
_PROBES = 64
_guarded: set[str] = set()


def _lost(obj: object, action) -> bool:
    before = sys.getrefcount(obj)
    for _ in range(_PROBES):
        action()
    return sys.getrefcount(obj) < before - _PROBES // 2


def leaky_singletons() -> set[str]:
    """Which of ``None``/``True``/``False`` the binding loses references to."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        sigFlag = Signal(bool)

    probe = _Probe()
    probe.sigFlag.connect(lambda flag: None)
    found = set()
    if _lost(None, lambda: probe.setObjectName("probe")):
        found.add("None")
    if _lost(True, lambda: probe.sigFlag.emit(True)):
        found.add("True")
    if _lost(False, lambda: probe.sigFlag.emit(False)):
        found.add("False")
    return found


def guard_singleton_refcounts() -> set[str]:
    """Protect the singletons the binding loses references to; returns the ones guarded."""
    if _guarded or sys.version_info >= (3, 12):
        return set(_guarded)
    objects = {"None": None, "True": True, "False": False}
    for name in leaky_singletons():
        # ob_refcnt is the first field of every CPython object (a Py_ssize_t).
        ctypes.c_ssize_t.from_address(id(objects[name])).value += _EXTRA_REFS
        _guarded.add(name)
    return set(_guarded)
