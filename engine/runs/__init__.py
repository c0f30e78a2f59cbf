"""Run folders (``runs/<run-id>/``): their layout, their names, fencing and their event streams."""

from engine.runs._events import EVENT_TYPES, EventReader, EventWriter, read_events
from engine.runs._fence import RunFenced, check_fence, fence
from engine.runs._files import write_atomic
from engine.runs._folder import RunFolder
from engine.runs._label import run_label
from engine.runs._names import MAX_NAME, safe_name

__all__ = [
    "EVENT_TYPES",
    "MAX_NAME",
    "EventReader",
    "EventWriter",
    "RunFenced",
    "RunFolder",
    "check_fence",
    "fence",
    "read_events",
    "run_label",
    "safe_name",
    "write_atomic",
]
