"""Run folders (``runs/<run-id>/``) and their event streams."""

from engine.runs._events import EVENT_TYPES, EventReader, EventWriter, read_events

__all__ = ["EVENT_TYPES", "EventReader", "EventWriter", "read_events"]
