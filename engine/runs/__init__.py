"""Run folders (``runs/<run-id>/``) and their event streams."""

from engine.runs._events import EVENT_TYPES, EventReader, EventWriter, read_events
from engine.runs._label import run_label

__all__ = ["EVENT_TYPES", "EventReader", "EventWriter", "read_events", "run_label"]
