"""Disagreement queue and adjudication: settling readers' disagreements into current labels.

An adjudication sets the current label (label source ``adjudication``) and records, in the
same transaction, which reads it settled (``adjudications`` + ``adjudication_reads``; its
``history_id`` is the label-history row it wrote). Training reads the current labels, so a
consensus label flows into every split made after it.

Patient level: a reader's call on a patient is AFF when any of the patient's images is read
AFF, else uncertain when any is uncertain, else NFF (the same rule the report uses).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from engine.errors import InvalidInput, NotFound
from engine.reads._reads import Read, latest_reads
from engine.reads._sessions import get_session
from engine.store import LABELS, Project, safe_text, utc_now

RULES = ("majority", "any-aff")
LEVELS = ("image", "patient")


@dataclass(frozen=True)
class QueueItem:
    """Images (one, or a patient's) on which the readers differ, with everything they said.

    ``calls``: ``session -> label`` (the image's read, or the patient-level call);
    ``reads``: every latest read of these images in those sessions; ``current_labels``:
    ``image_id -> current label`` (an adjudicator sees it; a blind reader never gets a queue).
    """

    patient_key: str
    image_ids: tuple[int, ...]
    calls: dict[str, str]
    reads: tuple[Read, ...]
    current_labels: dict[int, str | None]


@dataclass(frozen=True)
class Adjudication:
    """One settled image: the label set, who or which rule set it, and the reads it settled."""

    id: int
    image_id: int
    label: str
    adjudicator: str
    rule: str
    history_id: int
    at: str
    read_ids: tuple[int, ...]


@dataclass(frozen=True)
class AutoResult:
    """What an automatic rule did: the images it settled and what it left to the queue (ties)."""

    rule: str
    settled: tuple[Adjudication, ...]
    queued: tuple[QueueItem, ...]
    skipped_incomplete: int  # images not read in every session


def patient_call(labels: list[str]) -> str:
    """A reader's patient-level call from their image reads."""
    if "AFF" in labels:
        return "AFF"
    return "uncertain" if "uncertain" in labels else "NFF"


def _check_sessions(project: Project, sessions: list[str], at_least: int = 2) -> list[str]:
    sessions = list(dict.fromkeys(sessions))
    if len(sessions) < at_least:
        raise InvalidInput(f"name at least {at_least} reading sessions (got {len(sessions)})")
    for name in sessions:
        get_session(project, name)
    return sessions


def _browser_rows(project: Project) -> list[tuple[int, str]]:
    """``(image_id, patient_key)`` in the browser's order (patient, then image id)."""
    return [(r[0], r[1]) for r in project.query(
        "SELECT i.id, p.patient_key FROM images i JOIN patients p ON p.id = i.patient_id "
        "ORDER BY p.patient_key, i.id")]


def _settled(project: Project) -> dict[int, int]:
    """``image_id -> largest read id`` its latest adjudication settled (0 for none linked)."""
    rows = project.query(
        "SELECT a.image_id, COALESCE(MAX(ar.read_id), 0) FROM adjudications a "
        "LEFT JOIN adjudication_reads ar ON ar.adjudication_id = a.id "
        "WHERE a.id = (SELECT MAX(b.id) FROM adjudications b WHERE b.image_id = a.image_id) "
        "GROUP BY a.image_id")
    return {r[0]: r[1] for r in rows}


def _groups(project: Project, sessions: list[str], level: str
            ) -> list[tuple[str, tuple[int, ...], dict[str, str], tuple[Read, ...]]]:
    """Image or patient groups read in every session: (patient, ids, calls, reads)."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level!r}: use image or patient")
    reads = latest_reads(project, sessions)
    rows = _browser_rows(project)
    complete = [(i, p) for i, p in rows if all(i in reads[s] for s in sessions)]
    if level == "image":
        return [(p, (i,), {s: reads[s][i].label for s in sessions},
                 tuple(reads[s][i] for s in sessions)) for i, p in complete]
    by_patient: dict[str, list[int]] = {}
    for i, p in complete:
        by_patient.setdefault(p, []).append(i)
    out = []
    for p, ids in by_patient.items():
        calls = {s: patient_call([reads[s][i].label for i in ids]) for s in sessions}
        out.append((p, tuple(ids), calls, tuple(reads[s][i] for i in ids for s in sessions)))
    return out


def _current(project: Project) -> dict[int, str]:
    return project.labels.all()


def disagreement_queue(project: Project, sessions: list[str], level: str = "image",
                       include_settled: bool = False) -> list[QueueItem]:
    """Images (or patients) read in every named session on which the calls differ.

    In the browser's order. An item whose images were all adjudicated after their latest
    reads leaves the queue (``include_settled`` keeps it).
    """
    sessions = _check_sessions(project, sessions)
    settled = _settled(project)
    current = _current(project)
    out = []
    for patient, ids, calls, reads in _groups(project, sessions, level):
        if len(set(calls.values())) < 2:
            continue
        newest = {}
        for r in reads:
            newest[r.image_id] = max(newest.get(r.image_id, 0), r.id)
        if not include_settled and all(settled.get(i, -1) >= newest[i] for i in ids):
            continue
        out.append(QueueItem(patient, ids, calls, reads, {i: current.get(i) for i in ids}))
    return out


def adjudicate(project: Project, image_ids: list[int], label: str, adjudicator: str,
               sessions: list[str] | None = None, rule: str = "manual",
               _reads: dict[str, dict[int, Read]] | None = None) -> list[Adjudication]:
    """Set ``label`` as the consensus of ``image_ids`` (e.g. one image, or a patient's images).

    Each image's current label becomes ``label`` (source ``adjudication``; a history row is
    written even when the label does not change), linked to the latest reads of the image in
    ``sessions`` (every session that read it when ``None``). One transaction for all images.
    """
    if label not in LABELS:
        raise InvalidInput(f"unknown label {label!r}: use one of {', '.join(LABELS)}")
    adjudicator = safe_text(adjudicator or "").strip()
    if not adjudicator:
        raise InvalidInput("an adjudicator name is required")
    if rule not in ("manual", *RULES):
        raise InvalidInput(f"unknown adjudication rule {rule!r}")
    if sessions is None:
        sessions = [r[0] for r in project.query("SELECT name FROM reading_sessions ORDER BY id")]
    reads = _reads if _reads is not None else latest_reads(project, sessions) if sessions else {}
    image_ids = list(dict.fromkeys(int(i) for i in image_ids))
    if not image_ids:
        raise InvalidInput("no images to adjudicate")
    out = []
    with project.transaction() as conn:
        for image_id in image_ids:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is None:
                raise NotFound(f"no image with id {image_id} in {project.path}")
            change = project.labels.set_in(conn, image_id, label, adjudicator, "adjudication", force=True)
            assert change is not None
            now = utc_now()
            cur = conn.execute(
                "INSERT INTO adjudications(image_id, label, adjudicator, rule, history_id, at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (image_id, label, adjudicator, rule, change.id, now))
            settled = tuple(reads[s][image_id].id for s in sessions if image_id in reads[s])
            conn.executemany("INSERT INTO adjudication_reads(adjudication_id, read_id) VALUES (?, ?)",
                             [(cur.lastrowid, r) for r in settled])
            out.append(Adjudication(cur.lastrowid, image_id, label, adjudicator, rule, change.id, now,
                                    settled))
    return out


def rule_label(rule: str, labels: list[str]) -> str | None:
    """The label ``rule`` gives these calls, or None for a tie (left to the queue).

    ``majority``: the most frequent call when it is strictly the most frequent. ``any-aff``:
    AFF when any reader says AFF, NFF when all say NFF, otherwise (NFF and uncertain) a tie.
    """
    if rule == "majority":
        ranked = Counter(labels).most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None
        return ranked[0][0]
    if rule == "any-aff":
        if "AFF" in labels:
            return "AFF"
        return "NFF" if set(labels) == {"NFF"} else None
    raise InvalidInput(f"unknown adjudication rule {rule!r}: use majority or any-aff")


def auto_adjudicate(project: Project, sessions: list[str], rule: str = "majority",
                    adjudicator: str | None = None, level: str = "image") -> AutoResult:
    """Apply ``rule`` to every image (or patient) read in all ``sessions`` not yet settled.

    Images the rule decides get the consensus as their current label; ties stay in the
    disagreement queue for a person. At patient level the decided call is set on all of the
    patient's images.
    """
    sessions = _check_sessions(project, sessions)
    rule_label(rule, ["AFF"])  # validates the rule name
    who = adjudicator or f"rule:{rule}"
    settled_reads = _settled(project)
    groups = _groups(project, sessions, level)
    reads_all = latest_reads(project, sessions)
    done, ties = [], []
    n_complete = sum(len(ids) for _, ids, _, _ in groups)
    current = _current(project)
    for patient, ids, calls, reads in groups:
        newest = {i: max(r.id for r in reads if r.image_id == i) for i in ids}
        if all(settled_reads.get(i, -1) >= newest[i] for i in ids):
            continue
        decided = rule_label(rule, list(calls.values()))
        if decided is None:
            ties.append(QueueItem(patient, ids, calls, reads, {i: current.get(i) for i in ids}))
            continue
        done.extend(adjudicate(project, list(ids), decided, who, sessions, rule=rule, _reads=reads_all))
    n_read_any = len({i for s in sessions for i in reads_all[s]})
    return AutoResult(rule, tuple(done), tuple(ties), n_read_any - n_complete)


def adjudications(project: Project, image_id: int | None = None) -> list[Adjudication]:
    """Every adjudication (of one image), oldest first, with the ids of the reads it settled."""
    sql, params = "SELECT * FROM adjudications", ()
    if image_id is not None:
        sql, params = sql + " WHERE image_id = ?", (image_id,)
    links: dict[int, list[int]] = {}
    for r in project.query("SELECT adjudication_id, read_id FROM adjudication_reads ORDER BY read_id"):
        links.setdefault(r[0], []).append(r[1])
    return [Adjudication(r["id"], r["image_id"], r["label"], r["adjudicator"], r["rule"], r["history_id"],
                         r["at"], tuple(links.get(r["id"], ()))) for r in project.query(sql + " ORDER BY id",
                                                                                       params)]


def settled_reads(project: Project, history_id: int) -> list[Read]:
    """The reads a label-history row of source ``adjudication`` settled (empty for other rows)."""
    rows = project.query(
        "SELECT r.*, s.name AS session FROM adjudications a JOIN adjudication_reads ar "
        "ON ar.adjudication_id = a.id JOIN reads r ON r.id = ar.read_id "
        "JOIN reading_sessions s ON s.id = r.session_id WHERE a.history_id = ? ORDER BY r.id",
        (history_id,))
    return [Read(r["id"], r["session"], r["image_id"], r["reader"], r["label"], r["confidence"],
                 r["seconds"], r["at"]) for r in rows]
