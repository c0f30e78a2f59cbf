"""``affengine labels export|import|review``: labels as CSV, and the label-review queue."""

from __future__ import annotations

import csv
import getpass
import sys
from pathlib import Path

from engine.cli._common import open_project
from engine.io import CsvError, read_csv
from engine.store import LABELS, csv_cell

EXPORT_COLUMNS = ("image_id", "path", "sha256", "patient_id", "view", "laterality", "label")
_CANONICAL = {name.lower(): name for name in LABELS} | {"none": None}


def add_parser(sub) -> None:
    p = sub.add_parser("labels", help="export or import labels as CSV")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    ex = verbs.add_parser("export", help="write current labels (or the full history) as CSV")
    ex.add_argument("project")
    ex.add_argument("--out", "-o", help="CSV file to write (default: standard output)")
    ex.add_argument("--history", action="store_true", help="export the full label history")
    ex.set_defaults(func=run_export)

    im = verbs.add_parser(
        "import",
        help="set labels from a CSV with a label column and an image_id, sha256 or path column",
    )
    im.add_argument("project")
    im.add_argument("csv", help="CSV file; label values AFF, NFF, uncertain, exclude, none")
    im.add_argument("--reader", default=None, help="reader name recorded in the history")
    im.add_argument("--skip-bad", action="store_true",
                    help="apply the good rows even when some rows are bad (default: apply none)")
    im.set_defaults(func=run_import)

    rv = verbs.add_parser(
        "review",
        help="rank images whose label the experiments' out-of-fold predictions doubt most",
    )
    rv.add_argument("project")
    rv.add_argument("--experiments", "-e", nargs="+", required=True, metavar="NAME",
                    help="finished experiments on the same split (their probabilities are averaged)")
    rv.add_argument("--out", "-o", help="CSV file to write the queue to")
    rv.add_argument("--top", type=int, default=20,
                    help="how many images to print and export (default 20; 0 = all)")
    rv.add_argument("--method", default="self_confidence",
                    choices=("self_confidence", "normalized_margin", "confidence_weighted_entropy"),
                    help="cleanlab label-quality score (default self_confidence)")
    rv.set_defaults(func=run_review)


def run_export(args) -> int:
    with open_project(args.project) as project:
        if args.history:
            if not args.out:
                from engine.cli._errors import CliError

                raise CliError("--history needs --out FILE")
            n = project.labels.export_history_csv(args.out)
            print(f"wrote {n} history rows to {args.out}", file=sys.stderr)
            return 0
        rows = project.images.list(order="id")
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for r in rows:
            writer.writerow([csv_cell(v) for v in (r.id, r.path, r.sha256, r.patient_key,
                                                    r.view or "", r.laterality or "", r.label or "")])
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    return 0


def read_label_csv(project, csv_path: Path) -> tuple[dict[int, str | None], list[str]]:
    """Parse a label CSV into ``image_id -> label`` and a list of ``file:row: reason`` errors.

    An empty label cell leaves the image unchanged; ``none`` clears its label.
    """
    from engine.cli._errors import CliError

    try:
        table = read_csv(csv_path, "label file")
    except CsvError as exc:
        raise CliError(str(exc)) from None
    for warning in table.warnings:
        print(f"affengine: warning: {warning}", file=sys.stderr)
    fields = table.header
    keys = [k for k in ("image_id", "sha256", "path") if k in fields]
    if "label" not in fields or not keys:
        raise CliError(f"{csv_path}: needs a 'label' column and one of image_id, sha256, path "
                       f"(found: {', '.join(fields) or 'no header'})")
    rows = list(table.dicts())
    images = project.images.list(order="id")
    lookup = {
        "image_id": {str(r.id): r.id for r in images},
        "sha256": {r.sha256: r.id for r in images},
        "path": {r.path: r.id for r in images},
    }
    labels: dict[int, str | None] = {}
    errors: list[str] = []
    for line, row in rows:
        raw = (row.get("label") or "").strip()
        if not raw:
            continue
        if raw.lower() not in _CANONICAL:
            errors.append(f"{csv_path}:{line}: unknown label {raw!r} "
                          f"(use {', '.join(LABELS)} or none)")
            continue
        image_id = next((lookup[k].get((row.get(k) or "").strip()) for k in keys
                         if (row.get(k) or "").strip() in lookup[k]), None)
        if image_id is None:
            ref = next(((k, row.get(k)) for k in keys if row.get(k)), ("row", "(empty)"))
            errors.append(f"{csv_path}:{line}: no image with {ref[0]} {ref[1]!r} in the project")
            continue
        if image_id in labels and labels[image_id] != _CANONICAL[raw.lower()]:
            errors.append(f"{csv_path}:{line}: image {image_id} is given two different labels")
            continue
        labels[image_id] = _CANONICAL[raw.lower()]
    return labels, errors


def run_import(args) -> int:
    reader = args.reader or getpass.getuser()
    with open_project(args.project) as project:
        labels, errors = read_label_csv(project, Path(args.csv))
        for e in errors:
            print(e, file=sys.stderr)
        if errors and not args.skip_bad:
            print(f"affengine: {len(errors)} bad row(s); no label was changed "
                  "(fix them, or pass --skip-bad to apply the good rows)", file=sys.stderr)
            return 2
        changes = project.labels.set_each(labels, reader=reader, source="csv")
    print(f"{len(changes)} label(s) changed, {len(labels) - len(changes)} already as given"
          + (f", {len(errors)} bad row(s) skipped" if errors else ""))
    return 1 if errors else 0


def run_review(args) -> int:
    from engine.cli._errors import CliError
    from engine.evaluate import review_experiments

    if args.top < 0:
        raise CliError(f"--top must be 0 (all) or more, got {args.top}")
    top = args.top or None
    with open_project(args.project) as project:
        try:
            queue = review_experiments(project, args.experiments, args.method)
        except (KeyError, ValueError) as exc:
            raise CliError(str(exc.args[0]) if exc.args else str(exc)) from None
        paths = {r.id: r.path for r in project.images.list(order="id")}
    print(f"{queue.n_flagged} of {queue.n_images} images flagged by confident learning "
          f"(experiments: {', '.join(queue.experiments)}); most doubtful first:")
    print(f"{'rank':>4} {'image':>6} {'patient':<12} {'label':<5} {'quality':>7} {'p(AFF)':>6} flag  path")
    for it in queue.top(top):
        print(f"{it.rank:>4} {it.image_id:>6} {it.patient_id:<12} {it.label:<5} {it.quality:>7.3f} "
              f"{it.p_aff_mean:>6.3f} {'yes ' if it.flagged else '    '}  {paths.get(it.image_id, '')}")
    if args.out:
        queue.write_csv(args.out, top)
        shown = len(queue.top(top))
        print(f"wrote {shown} rows to {args.out}", file=sys.stderr)
    return 0
