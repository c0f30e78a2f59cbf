"""Reader studies: reading sessions, reads kept apart from the current labels, adjudication.

The store API the GUI and the CLI use (see ``docs/reader_study.md``). Reads live in their own
append-only tables (``reading_sessions``, ``reading_items``, ``reads``, ``adjudications``,
``adjudication_reads``); only :func:`adjudicate` (and :func:`auto_adjudicate`) change a current
label, with label source ``adjudication``.
"""

from engine.reads._adjudicate import (
    LEVELS,
    RULES,
    Adjudication,
    AutoResult,
    QueueItem,
    adjudicate,
    adjudications,
    auto_adjudicate,
    disagreement_queue,
    patient_call,
    rule_label,
    settled_reads,
)
from engine.reads._reads import (
    EXPORT_COLUMNS,
    Read,
    ReadItem,
    export_reads_csv,
    latest_reads,
    next_unread,
    progress,
    reading_items,
    reads_of,
    record_read,
)
from engine.reads._sessions import (
    MODES,
    READ_LABELS,
    SET_KINDS,
    ImageSet,
    ReadingSession,
    create_session,
    get_session,
    list_sessions,
    session_image_ids,
)
from engine.reads._simulate import Truth, phantom_truth, simulate_readers

__all__ = [
    "Truth",
    "phantom_truth",
    "simulate_readers",
    "EXPORT_COLUMNS",
    "LEVELS",
    "MODES",
    "READ_LABELS",
    "RULES",
    "SET_KINDS",
    "Adjudication",
    "AutoResult",
    "ImageSet",
    "QueueItem",
    "Read",
    "ReadItem",
    "ReadingSession",
    "adjudicate",
    "adjudications",
    "auto_adjudicate",
    "create_session",
    "disagreement_queue",
    "export_reads_csv",
    "get_session",
    "latest_reads",
    "list_sessions",
    "next_unread",
    "patient_call",
    "progress",
    "reading_items",
    "reads_of",
    "record_read",
    "rule_label",
    "session_image_ids",
    "settled_reads",
]
