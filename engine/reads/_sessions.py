"""Reading sessions: a reader, an image set frozen at creation, a mode and a label set.

A session's images are resolved once, when it is created, and stored in ``reading_items`` in
the order the reader sees them: a blind session shows its patients in a random order (seeded,
different per reader), an open one in the browser's order (patient, then image id).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from engine.errors import InvalidInput, NotFound
from engine.store import ImageFilter, Project, safe_text, utc_now

MODES = ("blind", "open")
READ_LABELS = ("AFF", "NFF", "uncertain")
SET_KINDS = ("all", "filter", "fold", "ids")
SESSION_SOURCES = ("reader", "simulated")


@dataclass(frozen=True)
class ImageSet:
    """Which images a session reads; stored as JSON with the session.

    ``kind``: ``all`` (the whole project), ``filter`` (``filter`` holds :class:`ImageFilter`
    fields), ``fold`` (fold ``fold`` of repeat ``repeat`` of split ``split`` version
    ``split_version``, the latest when ``None``; ``fold = -1`` is the held-out test set) or
    ``ids`` (explicit image ids). ``sample`` then keeps that many **patients** drawn at random
    with ``seed`` (all of each drawn patient's images in the set), so patient-level agreement
    and "the patient's other views" always have whole patients.
    """

    kind: str = "all"
    filter: dict = field(default_factory=dict)
    split: str | None = None
    split_version: int | None = None
    fold: int | None = None
    repeat: int = 0
    ids: tuple[int, ...] = ()
    sample: int | None = None
    seed: int = 0

    def to_json(self) -> str:
        d = asdict(self)
        d["ids"] = list(self.ids)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ImageSet:
        d = json.loads(text)
        d["ids"] = tuple(d.get("ids", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def describe(self) -> str:
        """A short phrase for tables and the report ("fold 2 of split default v1, 40 patients")."""
        base = {
            "all": "whole project",
            "filter": "filter " + ", ".join(f"{k}={v}" for k, v in sorted(self.filter.items())),
            "fold": f"{'test set' if self.fold == -1 else f'fold {self.fold}'} of split {self.split}"
                    + (f" v{self.split_version}" if self.split_version else ""),
            "ids": f"{len(self.ids)} chosen images",
        }.get(self.kind, self.kind)
        return base + (f", {self.sample} random patients (seed {self.seed})" if self.sample else "")


@dataclass(frozen=True)
class ReadingSession:
    """One reader's reading session. ``confidence``: the session asks for a 1-5 score per read."""

    id: int
    name: str
    reader: str
    mode: str
    confidence: bool
    image_set: ImageSet
    order_seed: int
    source: str
    created_at: str
    n_images: int = 0

    @property
    def blind(self) -> bool:
        return self.mode == "blind"


def _resolve(project: Project, image_set: ImageSet) -> list[int]:
    """Image ids of ``image_set`` (before sampling), in the browser's order."""
    if image_set.kind not in SET_KINDS:
        raise InvalidInput(f"unknown image set kind {image_set.kind!r}: use one of {', '.join(SET_KINDS)}")
    if image_set.kind == "all":
        return project.images.ids()
    if image_set.kind == "filter":
        known = {f.name for f in fields(ImageFilter)}
        bad = sorted(set(image_set.filter) - known)
        if bad:
            raise InvalidInput(f"unknown image filter field(s) {', '.join(bad)}: "
                               f"use {', '.join(sorted(known))}")
        try:
            return project.images.ids(ImageFilter(**image_set.filter))
        except ValueError as exc:
            raise InvalidInput(f"image filter: {exc}") from None
    if image_set.kind == "ids":
        wanted = set(int(i) for i in image_set.ids)
        present = [i for i in project.images.ids() if i in wanted]
        missing = sorted(wanted - set(present))
        if missing:
            raise NotFound(f"no image with id {missing[0]} in {project.path}")
        return present
    from engine.splits import load_split

    if image_set.split is None or image_set.fold is None:
        raise InvalidInput("a fold image set needs a split name and a fold")
    try:
        split = load_split(project, image_set.split, image_set.split_version)
    except (KeyError, LookupError) as exc:
        raise NotFound(str(exc).strip("'\"")) from None
    try:
        plan = split.plan_for(image_set.repeat)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if image_set.fold != -1 and not 0 <= image_set.fold < split.k:
        raise InvalidInput(f"split {split.name} v{split.version} has folds 0..{split.k - 1} "
                           f"(or -1 for the test set), not {image_set.fold}")
    chosen = set(plan.image_ids[plan.folds == image_set.fold].tolist())
    return [i for i in project.images.ids() if i in chosen]


def _patients(project: Project, ids: list[int]) -> dict[int, str]:
    rows = project.query("SELECT i.id, p.patient_key FROM images i JOIN patients p ON p.id = i.patient_id")
    keys = {r[0]: r[1] for r in rows}
    return {i: keys[i] for i in ids}


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "little")


def _order(project: Project, ids: list[int], mode: str, order_seed: int) -> list[int]:
    """Blind: patients shuffled with ``order_seed``, a patient's images together (view, id)."""
    if mode == "open":
        return ids
    patient = _patients(project, ids)
    keys = sorted(set(patient.values()))
    rng = np.random.default_rng(order_seed)
    rank = {keys[k]: r for r, k in enumerate(rng.permutation(len(keys)).tolist())}
    return sorted(ids, key=lambda i: (rank[patient[i]], i))


def create_session(project: Project, name: str, reader: str, image_set: ImageSet | None = None, *,
                   mode: str = "blind", confidence: bool = False, order_seed: int | None = None,
                   source: str = "reader") -> ReadingSession:
    """Create a reading session and freeze its image list; ``name`` is unique in the project.

    ``order_seed`` (default: derived from the name and reader) decides a blind session's patient
    order, so two readers of the same images do not see them in the same order.
    """
    image_set = image_set or ImageSet()
    name, reader = safe_text(name or "").strip(), safe_text(reader or "").strip()
    if not name:
        raise InvalidInput("a reading session needs a name")
    if not reader:
        raise InvalidInput(f"reading session {name}: a reader name is required")
    if mode not in MODES:
        raise InvalidInput(f"unknown reading mode {mode!r}: use blind or open")
    if source not in SESSION_SOURCES:
        raise InvalidInput(f"unknown session source {source!r}")
    if image_set.sample is not None and image_set.sample < 1:
        raise InvalidInput(f"--sample must be at least 1 patient, not {image_set.sample}")
    ids = _resolve(project, image_set)
    if image_set.sample is not None:
        patient = _patients(project, ids)
        keys = sorted(set(patient.values()))
        if image_set.sample < len(keys):
            rng = np.random.default_rng(image_set.seed)
            keep = {keys[i] for i in rng.choice(len(keys), image_set.sample, replace=False).tolist()}
            ids = [i for i in ids if patient[i] in keep]
    if not ids:
        raise InvalidInput(f"reading session {name}: the image set ({image_set.describe()}) has no images")
    seed = _stable_seed(name, reader) if order_seed is None else int(order_seed)
    ordered = _order(project, ids, mode, seed)
    with project.transaction() as conn:
        if conn.execute("SELECT 1 FROM reading_sessions WHERE name = ?", (name,)).fetchone():
            raise InvalidInput(f"a reading session named {name!r} already exists in {project.path}")
        cur = conn.execute(
            "INSERT INTO reading_sessions(name, reader, mode, confidence, image_set, order_seed, source, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, reader, mode, int(confidence), image_set.to_json(), seed, source, utc_now()))
        sid = cur.lastrowid
        conn.executemany("INSERT INTO reading_items(session_id, position, image_id) VALUES (?, ?, ?)",
                         [(sid, pos, i) for pos, i in enumerate(ordered)])
    return get_session(project, name)


def _session(row, n: int) -> ReadingSession:
    return ReadingSession(row["id"], row["name"], row["reader"], row["mode"], bool(row["confidence"]),
                          ImageSet.from_json(row["image_set"]), row["order_seed"], row["source"],
                          row["created_at"], n)


_SESSION_SQL = ("SELECT s.*, (SELECT COUNT(*) FROM reading_items t WHERE t.session_id = s.id) AS n "
                "FROM reading_sessions s")


def get_session(project: Project, name: str) -> ReadingSession:
    """The session called ``name``; :class:`NotFound` names the sessions there are."""
    rows = project.query(_SESSION_SQL + " WHERE s.name = ?", (name,))
    if not rows:
        known = [s.name for s in list_sessions(project)]
        raise NotFound(f"no reading session {name!r} in {project.path}"
                       + (f" (there are: {', '.join(known)})" if known else " (there are none)"))
    return _session(rows[0], rows[0]["n"])


def list_sessions(project: Project) -> list[ReadingSession]:
    """Every reading session, oldest first."""
    return [_session(r, r["n"]) for r in project.query(_SESSION_SQL + " ORDER BY s.id")]


def session_image_ids(project: Project, session: ReadingSession | str) -> list[int]:
    """The session's image ids in reading order."""
    s = get_session(project, session) if isinstance(session, str) else session
    return [r[0] for r in project.query(
        "SELECT image_id FROM reading_items WHERE session_id = ? ORDER BY position", (s.id,))]
