"""A reader study's numbers: agreement between sessions, each reader against the current labels,
and the readers against a model (sensitivity/specificity with Wilson CIs, misses, MRMC).

Image level: a subject is an image. Patient level: a subject is a patient, and a reader's call
is AFF when any of the patient's images is read AFF, else uncertain when any is uncertain,
else NFF (:func:`engine.reads.patient_call`; the same rule for the current labels).

A read's **score** (for weighted kappa, reader AUC and MRMC) is ``+confidence`` for AFF,
``0`` for uncertain and ``-confidence`` for NFF, or ``+1 / 0 / -1`` without a confidence.
Against a model a reader's **call** is positive when AFF; uncertain counts as not called AFF.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from engine.evaluate._agreement import (
    FleissKappa,
    Kappa,
    cluster_bootstrap_kappa_ci,
    cohen_kappa,
    fleiss_kappa,
)
from engine.evaluate._results import to_jsonable
from engine.reads import READ_LABELS, Read, get_session, latest_reads, patient_call
from engine.store import Project

SCORE_SCALE = tuple(range(-5, 6))


def read_score(read: Read) -> int:
    """``+c`` AFF, ``0`` uncertain, ``-c`` NFF (``c`` = confidence, 1 when none)."""
    c = read.confidence or 1
    return {"AFF": c, "uncertain": 0, "NFF": -c}[read.label]


@dataclass(frozen=True)
class PairAgreement:
    """Two sessions on the subjects both read: kappa, weighted kappa on the score scale."""

    first: str
    second: str
    n: int
    kappa: Kappa
    weighted: Kappa
    patient_ci: tuple[float, float] | None  # image level: kappa CI resampling patients


@dataclass(frozen=True)
class LabelAgreement:
    """One session against the project's current labels (AFF / NFF / uncertain images)."""

    session: str
    reader: str
    n: int
    kappa: Kappa


@dataclass(frozen=True)
class ReaderAgreement:
    level: str
    sessions: tuple[str, ...]
    readers: tuple[str, ...]
    pairs: tuple[PairAgreement, ...]
    fleiss: FleissKappa | None
    n_common: int
    vs_labels: tuple[LabelAgreement, ...]
    adjudicated_labels: int  # current labels that an adjudication set (vs_labels is partly circular then)

    def to_json(self) -> dict:
        return to_jsonable(self)


def _patients(project: Project) -> dict[int, str]:
    return {r[0]: r[1] for r in project.query(
        "SELECT i.id, p.patient_key FROM images i JOIN patients p ON p.id = i.patient_id")}


def subject_calls(project: Project, sessions: list[str], level: str = "image"
                  ) -> dict[str, dict[object, tuple[str, int]]]:
    """``session -> subject -> (call, score)``; subjects are image ids or patient keys."""
    if level not in ("image", "patient"):
        raise ValueError(f"level must be 'image' or 'patient', got {level!r}")
    reads = latest_reads(project, sessions)
    if level == "image":
        return {s: {i: (r.label, read_score(r)) for i, r in rs.items()} for s, rs in reads.items()}
    patient = _patients(project)
    out: dict[str, dict[object, tuple[str, int]]] = {}
    for s, rs in reads.items():
        by: dict[str, list[Read]] = {}
        for i, r in rs.items():
            by.setdefault(patient[i], []).append(r)
        out[s] = {p: (patient_call([r.label for r in group]), max(read_score(r) for r in group))
                  for p, group in by.items()}
    return out


def label_calls(project: Project, level: str = "image") -> dict[object, str]:
    """The current labels (AFF / NFF / uncertain) per image or patient."""
    labels = {i: lab for i, lab in project.labels.all().items() if lab in READ_LABELS}
    if level == "image":
        return labels
    patient = _patients(project)
    by: dict[str, list[str]] = {}
    for i, lab in labels.items():
        by.setdefault(patient[i], []).append(lab)
    return {p: patient_call(v) for p, v in by.items()}


def reader_agreement(project: Project, sessions: list[str], level: str = "image",
                     conf_level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> ReaderAgreement:
    """Pairwise Cohen's kappa (and weighted on the score scale), Fleiss' kappa, and each reader
    against the current labels, on the subjects each comparison's sessions read."""
    sessions = list(dict.fromkeys(sessions))
    if not sessions:
        raise ValueError("name at least one reading session")
    readers = tuple(get_session(project, s).reader for s in sessions)
    calls = subject_calls(project, sessions, level)
    patient = _patients(project)
    pairs = []
    for a, b in combinations(sessions, 2):
        common = [x for x in calls[a] if x in calls[b]]
        if not common:
            continue
        la, lb = [calls[a][x][0] for x in common], [calls[b][x][0] for x in common]
        k = cohen_kappa(la, lb, categories=READ_LABELS, conf_level=conf_level)
        w = cohen_kappa([calls[a][x][1] for x in common], [calls[b][x][1] for x in common],
                        categories=SCORE_SCALE, weights="quadratic", conf_level=conf_level)
        pci = None
        if level == "image":
            pci = cluster_bootstrap_kappa_ci(la, lb, [patient[x] for x in common], READ_LABELS,
                                             conf_level=conf_level, n_boot=n_boot, seed=seed)
        pairs.append(PairAgreement(a, b, len(common), k, w, pci))
    every = [x for x in calls[sessions[0]] if all(x in calls[s] for s in sessions)]
    fleiss = None
    if len(sessions) >= 2 and every:
        ratings = [[calls[s][x][0] for s in sessions] for x in every]
        clusters = [patient[x] for x in every] if level == "image" else None
        fleiss = fleiss_kappa(ratings, categories=READ_LABELS, conf_level=conf_level, n_boot=n_boot,
                              seed=seed, clusters=clusters)
    current = label_calls(project, level)
    vs = []
    for s, reader in zip(sessions, readers, strict=True):
        common = [x for x in calls[s] if x in current]
        if common:
            vs.append(LabelAgreement(s, reader, len(common), cohen_kappa(
                [calls[s][x][0] for x in common], [current[x] for x in common], categories=READ_LABELS,
                conf_level=conf_level)))
    adjudicated = project.query("SELECT COUNT(*) FROM labels WHERE source = 'adjudication'")[0][0]
    return ReaderAgreement(level, tuple(sessions), readers, tuple(pairs), fleiss, len(every), tuple(vs),
                           adjudicated)
