"""A project whose images a phantom manifest describes (labels, feature sizes), without pixels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from engine.phantom import MANIFEST_NAME
from engine.phantom._manifest import ManifestRow, write_manifest
from engine.store import ImageRecord, Project


def manifest_project(base: Path, patients: int = 100, per_patient: int = 2, aff_share: float = 0.5,
                     seed: int = 0, label: bool = True) -> tuple[Path, dict[int, float | None]]:
    """``base/Reads.affproj`` and ``image_id -> beak_mm`` (None for NFF); sources in ``base/src``."""
    rng = np.random.default_rng(seed)
    src = Path(base) / "src"
    src.mkdir(parents=True, exist_ok=True)
    rows, sizes = [], {}
    with Project.create(Path(base) / "Reads") as project:
        labels = {}
        with project.transaction() as conn:
            for p in range(patients):
                lab = "AFF" if p < round(patients * aff_share) else "NFF"
                beak = float(rng.uniform(0.25, 4.5)) if lab == "AFF" else 0.0
                complete = bool(lab == "AFF" and rng.random() < 0.3)
                for j in range(per_patient):
                    rel = f"dicom/PH{p:05d}_{j}.dcm"
                    rec = ImageRecord(
                        path=str(src / rel), source_folder=str(src),
                        sha256=hashlib.sha256(rel.encode()).hexdigest(), bytes=10, format="dicom",
                        width=100, height=120, patient_key=f"PH{p:05d}", view=("AP", "lateral")[j % 2])
                    image_id = project.images.insert(conn, rec)
                    labels[image_id] = lab
                    sizes[image_id] = beak + (1.5 if complete else 0.0) if lab == "AFF" else None
                    rows.append(ManifestRow(
                        path=rel, patient_id=f"PH{p:05d}", label=lab, view=rec.view, laterality="L",
                        roi_x0=0, roi_y0=0, roi_x1=1, roi_y1=1, complete=complete, fracture_type="transverse",
                        fracture_angle_deg=0.0, fracture_level_mm=0.0, entry_x=0.0, entry_y=0.0,
                        lateral_side="left", beak_mm=round(beak, 3), fragments=0, displacement_mm=0.0,
                        angulation_deg=0.0, pixel_spacing_mm=0.2, modality="DX", photometric="MONOCHROME2",
                        transfer_syntax="explicit", implant="none", ruler=False, study_date="20240101",
                        difficulty=0.5, png_path=""))
        if label:
            project.labels.set_each(labels, "import", "import")
        write_manifest(src / MANIFEST_NAME, rows)
        return project.path, sizes
