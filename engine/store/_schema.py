"""Ordered schema migrations for ``project.sqlite``.

Migrations are append-only: a released step is never edited, a change is a new
step. ``MIGRATIONS[i]`` moves a database from version ``i`` to ``i + 1``.
"""

from __future__ import annotations

import sqlite3

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE patients (
    id          INTEGER PRIMARY KEY,
    patient_key TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
CREATE TABLE images (
    id            INTEGER PRIMARY KEY,
    patient_id    INTEGER NOT NULL REFERENCES patients(id),
    path          TEXT NOT NULL,
    source_folder TEXT NOT NULL,
    sha256        TEXT NOT NULL UNIQUE,
    bytes         INTEGER NOT NULL,
    format        TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    bits_stored   INTEGER,
    photometric   TEXT,
    window_center REAL,
    window_width  REAL,
    pixel_spacing_row REAL,
    pixel_spacing_col REAL,
    view          TEXT,
    laterality    TEXT,
    study_uid     TEXT,
    series_uid    TEXT,
    sop_uid       TEXT,
    imported_at   TEXT NOT NULL
);
CREATE INDEX images_patient ON images(patient_id);
CREATE INDEX images_path ON images(path);
CREATE TABLE labels (
    image_id   INTEGER PRIMARY KEY REFERENCES images(id),
    label      TEXT NOT NULL CHECK (label IN ('AFF', 'NFF', 'uncertain', 'exclude')),
    reader     TEXT NOT NULL,
    source     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE label_history (
    id         INTEGER PRIMARY KEY,
    image_id   INTEGER NOT NULL REFERENCES images(id),
    old_label  TEXT,
    new_label  TEXT,
    reader     TEXT NOT NULL,
    source     TEXT NOT NULL,
    at         TEXT NOT NULL,
    undoes     INTEGER REFERENCES label_history(id)
);
CREATE INDEX label_history_image ON label_history(image_id, id);
CREATE TRIGGER label_history_no_update BEFORE UPDATE ON label_history
BEGIN SELECT RAISE(ABORT, 'label_history is append-only'); END;
CREATE TRIGGER label_history_no_delete BEFORE DELETE ON label_history
BEGIN SELECT RAISE(ABORT, 'label_history is append-only'); END;
"""

_V2 = """
CREATE TABLE rois (
    id         INTEGER PRIMARY KEY,
    image_id   INTEGER NOT NULL REFERENCES images(id),
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    reader     TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (x1 > x0 AND y1 > y0)
);
CREATE INDEX rois_image ON rois(image_id);
ALTER TABLE images ADD COLUMN modality TEXT;
ALTER TABLE images ADD COLUMN study_date TEXT;
ALTER TABLE images ADD COLUMN transfer_syntax TEXT;
ALTER TABLE images ADD COLUMN mtime REAL;
ALTER TABLE images ADD COLUMN cache_height INTEGER;
ALTER TABLE images ADD COLUMN cache_width INTEGER;
ALTER TABLE images ADD COLUMN thumb_height INTEGER;
ALTER TABLE images ADD COLUMN thumb_width INTEGER;
CREATE TABLE import_errors (
    id        INTEGER PRIMARY KEY,
    path      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX import_errors_path ON import_errors(path);
"""

_V3 = """
CREATE TABLE splits (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    k             INTEGER NOT NULL,
    seed          INTEGER NOT NULL,
    test_share    REAL NOT NULL,
    labels_digest TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE split_members (
    split_id   INTEGER NOT NULL REFERENCES splits(id),
    image_id   INTEGER NOT NULL REFERENCES images(id),
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    label      TEXT NOT NULL CHECK (label IN ('AFF', 'NFF')),
    fold       INTEGER NOT NULL,
    PRIMARY KEY (split_id, image_id)
);
CREATE TRIGGER split_members_frozen_update BEFORE UPDATE ON split_members
BEGIN SELECT RAISE(ABORT, 'a stored split never changes; create a new version'); END;
CREATE TRIGGER split_members_frozen_delete BEFORE DELETE ON split_members
BEGIN SELECT RAISE(ABORT, 'a stored split never changes; create a new version'); END;
"""

_V4 = """
CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    split_id    INTEGER NOT NULL REFERENCES splits(id),
    model       TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    experiment_id    INTEGER REFERENCES experiments(id),
    kind             TEXT NOT NULL,
    fold             INTEGER,
    spec             TEXT NOT NULL,
    run_id           TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL DEFAULT 'queued' CHECK (state IN
                     ('queued', 'running', 'interrupted', 'finished', 'failed', 'cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    worker           TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    heartbeat_at     REAL
);
CREATE INDEX jobs_state ON jobs(state, priority, id);
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    device       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at REAL NOT NULL,
    state        TEXT NOT NULL
);
"""

# v5: where a job runs. ``local`` jobs are claimed by workers from this database; ``slurm``
# jobs are submitted to a cluster by ``engine.slurm`` and never claimed by a local worker.
_V5 = """
ALTER TABLE jobs ADD COLUMN backend TEXT NOT NULL DEFAULT 'local';
"""

# v6: each submission of a ``slurm`` job to the cluster: its Slurm job id, the last Slurm state
# seen by ``engine.slurm.sync`` and its log file (relative to the project folder). A job that
# Slurm times out or pre-empts is submitted again under the next ``submission`` number;
# ``resumes`` counts those automatic resubmissions in a row (0 for a first or retried one).
_V6 = """
CREATE TABLE slurm_jobs (
    id           INTEGER PRIMARY KEY,
    job_id       INTEGER NOT NULL REFERENCES jobs(id),
    submission   INTEGER NOT NULL,
    slurm_id     TEXT NOT NULL,
    state        TEXT NOT NULL,
    log_path     TEXT NOT NULL,
    resumes      INTEGER NOT NULL DEFAULT 0,
    submitted_at TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (job_id, submission)
);
"""

# Repeated cross-validation (issue 13): a split version holds ``repeats`` independent K-fold
# partitions. Repeat 0 stays in ``split_members`` (so older splits read as one repeat); repeats
# 1..R-1 are in ``split_repeat_folds``, frozen like the members. A job names the repeat and the
# training seed it runs (NULL for older jobs and for jobs outside cross-validation: read as 0).
_V_REPEATS = """
ALTER TABLE splits ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
CREATE TABLE split_repeat_folds (
    split_id INTEGER NOT NULL REFERENCES splits(id),
    repeat   INTEGER NOT NULL CHECK (repeat >= 1),
    image_id INTEGER NOT NULL REFERENCES images(id),
    fold     INTEGER NOT NULL,
    PRIMARY KEY (split_id, repeat, image_id)
);
CREATE TRIGGER split_repeat_folds_frozen_update BEFORE UPDATE ON split_repeat_folds
BEGIN SELECT RAISE(ABORT, 'a stored split never changes; create a new version'); END;
CREATE TRIGGER split_repeat_folds_frozen_delete BEFORE DELETE ON split_repeat_folds
BEGIN SELECT RAISE(ABORT, 'a stored split never changes; create a new version'); END;
ALTER TABLE jobs ADD COLUMN repeat INTEGER;
ALTER TABLE jobs ADD COLUMN seed INTEGER;
"""

# Final models and screening predictions (issue 18). ``final_models``: an experiment's final model,
# ``ensemble`` (the fold models of every repeat, averaged) or ``refit`` (one job retrained on all
# cross-validation patients; ``job_id`` names it, and the model is usable once that job finished);
# ``provenance`` is JSON (split version, weight hashes, recipe, image size, code version).
# ``predictions``: one P(AFF) per image and final model from ``affengine predict``; a prediction
# never changes a label (labels change only through a reader or an import).
_V_PREDICTIONS = """
CREATE TABLE final_models (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    mode          TEXT NOT NULL CHECK (mode IN ('ensemble', 'refit')),
    job_id        INTEGER REFERENCES jobs(id),
    provenance    TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE predictions (
    final_model_id INTEGER NOT NULL REFERENCES final_models(id),
    image_id       INTEGER NOT NULL REFERENCES images(id),
    probability    REAL NOT NULL,
    job_id         INTEGER REFERENCES jobs(id),
    predicted_at   TEXT NOT NULL,
    PRIMARY KEY (final_model_id, image_id)
);
CREATE INDEX predictions_image ON predictions(image_id);
"""

# fencing: a counter on each job, raised by every claim (a local worker) and every Slurm submission.
# Every write a job's owner makes (heartbeat, finish, mark_running) names the token it was given and
# changes nothing when the job has since been claimed again: a worker paused past --stale-after (laptop
# suspend, SIGSTOP, an NFS stall) cannot overwrite the state of the worker that took the job over.
_V_FENCING = """
ALTER TABLE jobs ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
"""

# Content identity: new rows are hashed with xxh3-128 (issue 16, import speed); rows
# imported before keep their SHA-256. The partial index finds the sizes of those rows,
# the only files an import must also hash with SHA-256.
_V_HASH = """
ALTER TABLE images ADD COLUMN hash_algo TEXT NOT NULL DEFAULT 'sha256';
CREATE INDEX images_legacy_bytes ON images(bytes) WHERE hash_algo = 'sha256';
"""

# Reader study (issue 19): reading sessions, their frozen image lists and the reads, kept apart
# from the current labels. ``reads`` is append-only (a changed mind is a new row; the latest row
# of an image in a session is the reader's read). An ``adjudication`` sets a current label
# (``history_id`` is the ``label_history`` row it wrote) and ``adjudication_reads`` names the
# reads it settled.
_V_READS = """
CREATE TABLE reading_sessions (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    reader      TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('blind', 'open')),
    confidence  INTEGER NOT NULL DEFAULT 0 CHECK (confidence IN (0, 1)),
    image_set   TEXT NOT NULL,
    order_seed  INTEGER NOT NULL,
    source      TEXT NOT NULL DEFAULT 'reader',
    created_at  TEXT NOT NULL
);
CREATE TABLE reading_items (
    session_id INTEGER NOT NULL REFERENCES reading_sessions(id),
    position   INTEGER NOT NULL,
    image_id   INTEGER NOT NULL REFERENCES images(id),
    PRIMARY KEY (session_id, image_id),
    UNIQUE (session_id, position)
);
CREATE TRIGGER reading_items_frozen_update BEFORE UPDATE ON reading_items
BEGIN SELECT RAISE(ABORT, 'a reading session never changes its images'); END;
CREATE TRIGGER reading_items_frozen_delete BEFORE DELETE ON reading_items
BEGIN SELECT RAISE(ABORT, 'a reading session never changes its images'); END;
CREATE TABLE reads (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES reading_sessions(id),
    image_id   INTEGER NOT NULL REFERENCES images(id),
    reader     TEXT NOT NULL,
    label      TEXT NOT NULL CHECK (label IN ('AFF', 'NFF', 'uncertain')),
    confidence INTEGER CHECK (confidence IS NULL OR confidence BETWEEN 1 AND 5),
    seconds    REAL CHECK (seconds IS NULL OR seconds >= 0),
    at         TEXT NOT NULL
);
CREATE INDEX reads_session_image ON reads(session_id, image_id, id);
CREATE TRIGGER reads_no_update BEFORE UPDATE ON reads
BEGIN SELECT RAISE(ABORT, 'reads are append-only'); END;
CREATE TRIGGER reads_no_delete BEFORE DELETE ON reads
BEGIN SELECT RAISE(ABORT, 'reads are append-only'); END;
CREATE TABLE adjudications (
    id          INTEGER PRIMARY KEY,
    image_id    INTEGER NOT NULL REFERENCES images(id),
    label       TEXT NOT NULL CHECK (label IN ('AFF', 'NFF', 'uncertain', 'exclude')),
    adjudicator TEXT NOT NULL,
    rule        TEXT NOT NULL CHECK (rule IN ('manual', 'majority', 'any-aff')),
    history_id  INTEGER NOT NULL REFERENCES label_history(id),
    at          TEXT NOT NULL
);
CREATE INDEX adjudications_image ON adjudications(image_id, id);
CREATE TABLE adjudication_reads (
    adjudication_id INTEGER NOT NULL REFERENCES adjudications(id),
    read_id         INTEGER NOT NULL REFERENCES reads(id),
    PRIMARY KEY (adjudication_id, read_id)
);
CREATE TRIGGER adjudications_no_update BEFORE UPDATE ON adjudications
BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
CREATE TRIGGER adjudications_no_delete BEFORE DELETE ON adjudications
BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
CREATE TRIGGER adjudication_reads_no_update BEFORE UPDATE ON adjudication_reads
BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
CREATE TRIGGER adjudication_reads_no_delete BEFORE DELETE ON adjudication_reads
BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V_REPEATS, _V_PREDICTIONS, _V_FENCING, _V_HASH,
                               _V_READS)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the version recorded in ``PRAGMA user_version``."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _statements(script: str) -> list[str]:
    """Split a migration script into complete SQL statements (triggers included)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]}")
    return out


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the pending migrations up to ``target``, one transaction per step.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each step
    re-reads the version under the write lock, so two processes opening the
    same old project migrate it once.
    """
    if schema_version(conn) > SCHEMA_VERSION:
        raise RuntimeError(
            f"project schema v{schema_version(conn)} is newer than this release understands "
            f"(v{SCHEMA_VERSION}); update AFF Workbench to open it"
        )
    for version in range(target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) == version:
                for statement in _statements(MIGRATIONS[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)
