"""The guard against PySide6 6.12.0 losing references to None, True and False (Python < 3.12)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from affgui.qt_compat import guard_singleton_refcounts, leaky_singletons

_CRASH = """
import sys
from PySide6.QtCore import QObject, Signal
from affgui.qt_compat import guard_singleton_refcounts

class S(QObject):
    sig = Signal(bool)

s = S()
s.sig.connect(lambda flag: None)
calls = max(sys.getrefcount(None), sys.getrefcount(True)) + 1000
if sys.argv[1] == "guard":
    guard_singleton_refcounts()
for _ in range(calls):
    s.setObjectName("x")
    s.sig.emit(True)
print("alive")
"""


def test_guard_is_idempotent_and_covers_every_leaky_singleton():
    guarded = guard_singleton_refcounts()
    assert guard_singleton_refcounts() == guarded
    assert leaky_singletons() <= guarded
    for name in guarded:
        assert sys.getrefcount({"None": None, "True": True, "False": False}[name]) > 1 << 49


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None and bools are immortal")
def test_the_guard_keeps_python_alive_through_many_qt_calls():
    """More leaky calls than the singletons have references: fatal unless guarded."""
    guarded = subprocess.run([sys.executable, "-c", _CRASH, "guard"], capture_output=True,
                             text=True, timeout=120)
    assert guarded.returncode == 0 and guarded.stdout.strip() == "alive", guarded.stderr[-2000:]
    if leaky_singletons():
        bare = subprocess.run([sys.executable, "-c", _CRASH, "bare"], capture_output=True,
                              text=True, timeout=120)
        assert bare.returncode != 0 and "deallocating" in bare.stderr
