"""Run events as JSON lines: written by the worker, tailed by the GUI and CLI.

Each line is one object ``{"seq": n, "t": unix_time, "type": ..., **payload}``.
``seq`` increases by one per event across restarts of the same run, so a
reader resumes tailing from the last sequence number it saw.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine.errors import InvalidInput
from engine.runs import _fence

EVENT_TYPES = ("started", "progress", "metric", "log", "artifact", "finished", "failed", "cancelled")


class EventWriter:
    """Append events to ``events.jsonl``; each line is flushed (and fsynced) whole."""

    def __init__(self, path: str | Path, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._fence_key = _fence.fence_key(self.path.parent)
        if _fence._CHECKS:
            _fence.check_fence(self.path.parent, self._fence_key)
        self.seq = _last_seq(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def emit(self, type: str, **payload) -> dict:
        if type not in EVENT_TYPES:
            raise InvalidInput(f"unknown event type {type!r}: use one of {', '.join(EVENT_TYPES)}")
        if _fence._CHECKS:  # a worker that lost its job writes nothing more (engine.runs.fence)
            _fence.check_fence(self.path.parent, self._fence_key)
        self.seq += 1
        event = {"seq": self.seq, "t": round(time.time(), 3), "type": type, **payload}
        self._fh.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())
        return event

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _last_seq(path: Path) -> int:
    """Highest sequence number already in ``path`` (0 for none); ignores a torn last line."""
    if not path.exists():
        return 0
    last = 0
    with open(path, "rb") as fh:
        for line in fh:
            try:
                last = max(last, int(json.loads(line)["seq"]))
            except (ValueError, KeyError, TypeError):
                continue
    if path.stat().st_size and not _ends_with_newline(path):
        # A writer killed mid-line: end the torn line so the next event starts clean.
        with open(path, "ab") as fh:
            fh.write(b"\n")
    return last


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class EventReader:
    """Tail ``events.jsonl``: each :meth:`read_new` returns the complete events since the last call."""

    def __init__(self, path: str | Path, after_seq: int = 0):
        self.path = Path(path)
        self.last_seq = after_seq
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # incomplete last line, finished by a later read
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a torn line left by a killed writer
            seq = event.get("seq", 0) if isinstance(event, dict) else None
            if isinstance(seq, int) and seq > self.last_seq:  # a line without a numeric seq is skipped
                self.last_seq = seq
                events.append(event)
        return events


def read_events(path: str | Path) -> list[dict]:
    """All complete events of a run, in order."""
    return EventReader(path).read_new()
