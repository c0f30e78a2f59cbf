"""``affengine import PROJECT SOURCE... [--manifest CSV]``: import radiographs into a project."""

from __future__ import annotations

import sys

from engine.cli._common import ProgressPrinter, open_project


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import", help="import DICOM/PNG/TIFF/JPEG radiographs (folders walked recursively)",
        description="Import radiographs into a project. Files already imported and unchanged "
                    "are skipped; moved files are found again by content. Each file that "
                    "cannot be imported is listed with the reason (exit code 1).")
    p.add_argument("project", help="the project folder (NAME.affproj)")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="folders or files to import")
    p.add_argument("--manifest", metavar="CSV",
                   help="CSV with columns path, patient_id, label, view, laterality, "
                        "roi_x0, roi_y0, roi_x1, roi_y1 (path relative to the CSV)")
    p.add_argument("--no-folder-labels", dest="folder_labels", action="store_false",
                   help="do not take AFF/NFF labels from folder names")
    p.add_argument("--patient-rule", metavar="RULE",
                   help="patient key when neither the file nor the manifest gives one: "
                        "'parent', 'stem' or a regex with a group, searched in the path "
                        "relative to the source (default: parent folder, or the file stem "
                        "inside AFF/NFF folders)")
    p.add_argument("--workers", type=int, metavar="N", help="decoding processes (all cores)")
    p.add_argument("--reader", default="import",
                   help="reader name recorded with labels from the import (default: import)")
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.cli._errors import EXIT_OK, EXIT_PARTIAL, CliError
    from engine.io import ImportSetupError, import_sources, safe_text

    if not args.sources and not args.manifest:
        raise CliError("nothing to import: give at least one SOURCE or --manifest")
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, not {args.workers}")
    with open_project(args.project) as project:
        try:
            report = import_sources(
                project, args.sources, args.manifest, folder_labels=args.folder_labels,
                patient_rule=args.patient_rule, workers=args.workers,
                progress=ProgressPrinter("import"), reader=args.reader)
        except ImportSetupError as exc:
            raise CliError(str(exc)) from None
    print(f"import: {report.summary()}")
    for path, stored in report.duplicates:
        print(safe_text(f"  duplicate: {path} (same content as {stored})"))
    for warning in report.warnings:
        print(safe_text(f"  warning: {warning}"), file=sys.stderr)
    for path, note in report.notes:
        print(safe_text(f"  note: {path}: {note}"))
    if report.errors:
        print(f"import: {len(report.errors)} file(s) or manifest row(s) skipped:", file=sys.stderr)
        for path, reason in report.errors:
            print(safe_text(f"{path}: {reason}"), file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK
