"""The images and labels of one fold, put on the training device once as uint8."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.splits import load_split
from engine.store import Project
from engine.train._sized_cache import SizedCache
from engine.train._spec import RunSpec, SpecError


@dataclass(frozen=True)
class FoldData:
    """Image ids, patient keys and labels (1 = AFF) of one fold's training and validation sides."""

    split_version: int
    fold: int
    train_ids: np.ndarray
    train_labels: np.ndarray
    val_ids: np.ndarray
    val_labels: np.ndarray
    val_patients: np.ndarray
    train_patients: np.ndarray | None = None

    def counts(self) -> dict:
        return {"train_images": int(len(self.train_ids)), "train_aff": int(self.train_labels.sum()),
                "val_images": int(len(self.val_ids)), "val_aff": int(self.val_labels.sum())}


def load_fold(project: Project, spec: RunSpec) -> FoldData:
    """The spec's fold of its stored split; refuses folds a model cannot learn from."""
    try:
        split = load_split(project, spec.split, spec.split_version)
    except KeyError as exc:
        raise SpecError(str(exc.args[0])) from None
    try:
        train_ids, val_ids = split.train_val(spec.fold, spec.repeat)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    plan = split.plan  # image ids, patients and labels are the same in every repeat
    label = dict(zip(plan.image_ids.tolist(), plan.labels.tolist()))
    patient = dict(zip(plan.image_ids.tolist(), plan.patients.tolist()))
    data = FoldData(
        split.version, spec.fold,
        train_ids.astype(np.int64), np.array([label[i] for i in train_ids.tolist()], np.int64),
        val_ids.astype(np.int64), np.array([label[i] for i in val_ids.tolist()], np.int64),
        np.array([patient[i] for i in val_ids.tolist()], dtype=object),
        train_patients=np.array([patient[i] for i in train_ids.tolist()], dtype=object),
    )
    where = (f"fold {spec.fold} of split {spec.split} v{split.version}"
             + (f" repeat {spec.repeat}" if spec.repeat else ""))
    if len(np.unique(data.train_labels)) < 2:
        raise SpecError(f"{where}: the training side needs both AFF and NFF images "
                        f"(has {len(data.train_ids)} images, {int(data.train_labels.sum())} AFF)")
    if not len(data.val_ids):
        raise SpecError(f"{where}: no validation images")
    return data


def prepare_images(project: Project, image_ids: Sequence[int], size: int, device: str | torch.device,
                   progress: Callable[[int, int], None] | None = None,
                   mirror: np.ndarray | None = None) -> torch.Tensor:
    """``(N, 1, size, size)`` uint8 tensor of the letterboxed images, on ``device``.

    ``mirror`` (one bool per image, e.g. :func:`~engine.train.orientation_plan`'s) flips those
    images left-right: canonical orientation.

    Squares come from the project's sized cache (``cache/sized_<size>.u8``); missing ones
    are made from the cached full images first, so later runs at the same size only read.
    """
    ids = [int(i) for i in image_ids]
    sha = {r.id: r.sha256 for r in project.images.list(order="id")}
    unknown = [i for i in ids if i not in sha]
    if unknown:
        raise ValueError(f"image id(s) {unknown[:5]} are not in {project.path}")
    shas = [sha[i] for i in ids]
    cache = SizedCache(project.cache_dir, size)
    cache.ensure(np.array(ids, np.int64), shas, project.cache.load_full, progress=progress)
    squares = cache.read(ids)
    if mirror is not None:
        mirror = np.asarray(mirror, dtype=bool)
        if len(mirror) != len(ids):
            raise ValueError(f"mirror has {len(mirror)} entries for {len(ids)} images")
        squares = np.array(squares, copy=True)
        squares[mirror] = squares[mirror][:, :, ::-1]
    pixels = torch.from_numpy(np.ascontiguousarray(squares)).unsqueeze(1)
    device = torch.device(device)
    if device.type == "cuda":
        pixels = pixels.pin_memory()
    return pixels.to(device, non_blocking=True)
