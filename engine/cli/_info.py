"""``affengine info PROJECT``: counts per label, patient, view and import errors."""

from __future__ import annotations

import json

from engine.cli._common import open_project
from engine.store import LABELS, UNLABELLED


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="summarise a project: images, patients, labels, views, errors")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    p.add_argument("--errors", action="store_true", help="list every file the imports skipped")
    p.set_defaults(func=run)


def summary(project) -> dict:
    by_label = project.images.counts("label")
    return {
        "project": str(project.path),
        "schema_version": project.schema_version,
        "images": project.images.count(),
        "patients": project.images.patient_count(),
        "labels": {k: by_label.get(k, 0) for k in (*LABELS, UNLABELLED)},
        "views": {str(k): v for k, v in project.images.counts("view").items()},
        "laterality": {str(k): v for k, v in project.images.counts("laterality").items()},
        "source_folders": project.images.counts("source_folder"),
        "rois": len(project.rois.all()),
        "import_errors": len(project.images.errors()),
    }


def run(args) -> int:
    with open_project(args.project) as project:
        info = summary(project)
        errors = project.images.errors()
    if args.json:
        if args.errors:
            info["errors"] = [{"path": p, "reason": r, "at": t} for p, r, t in errors]
        print(json.dumps(info, indent=2))
        return 0
    print(f"project   {info['project']} (schema v{info['schema_version']})")
    print(f"images    {info['images']}  patients {info['patients']}  ROIs {info['rois']}")
    print("labels    " + "  ".join(f"{k} {v}" for k, v in info["labels"].items()))
    print("views     " + "  ".join(f"{k} {v}" for k, v in info["views"].items()))
    print("sides     " + "  ".join(f"{k} {v}" for k, v in info["laterality"].items()))
    for folder, n in info["source_folders"].items():
        print(f"source    {folder}: {n}")
    print(f"errors    {info['import_errors']} file(s) skipped by import"
          + ("" if args.errors or not errors else " (--errors lists them)"))
    if args.errors:
        for path, reason, _ in errors:
            print(f"  {path}: {reason}")
    return 0
