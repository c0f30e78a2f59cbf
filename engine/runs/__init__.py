"""Run folders (``runs/<run-id>/``), their event streams, and progress/ETA read from them."""

from engine.runs._events import EVENT_TYPES, EventReader, EventWriter, read_events
from engine.runs._label import run_label
from engine.runs._tailer import JobRow, JobTailer, Snapshot, WorkerRow, pid_alive

__all__ = ["EVENT_TYPES", "EventReader", "EventWriter", "JobRow", "JobTailer", "Snapshot", "WorkerRow",
           "pid_alive", "read_events", "run_label"]
