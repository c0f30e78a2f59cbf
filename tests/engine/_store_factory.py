"""Build small projects through the public store API for tests."""

from __future__ import annotations

import hashlib

from engine.store import ImageRecord, Project


def add_images(project: Project, n: int, patients: int = 3, folder: str = "/data") -> list[int]:
    """Insert ``n`` fake image rows spread over ``patients`` patients; returns their ids."""
    ids = []
    with project.transaction() as conn:
        for k in range(n):
            sha = hashlib.sha256(f"{folder}/{k}".encode()).hexdigest()
            rec = ImageRecord(
                path=f"{folder}/img{k:04d}.dcm", source_folder=folder, sha256=sha, bytes=100 + k,
                format="dicom", width=200, height=300, patient_key=f"P{k % patients:03d}",
                view=("AP", "lateral")[k % 2], laterality=("L", "R")[(k // 2) % 2],
            )
            ids.append(project.images.insert(conn, rec))
    return ids
