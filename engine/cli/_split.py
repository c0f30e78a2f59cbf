"""``affengine split create|list|show``: patient-grouped cross-validation splits."""

from __future__ import annotations

from engine.cli._common import open_project
from engine.splits import TEST_FOLD, LeakageError, create_split, fold_balance, list_splits, load_split


def add_parser(sub) -> None:
    p = sub.add_parser("split", help="create and inspect patient-grouped K-fold splits")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    c = verbs.add_parser("create", help="split the AFF/NFF-labelled images into K folds")
    c.add_argument("project")
    c.add_argument("--name", default="default")
    c.add_argument("--k", type=int, default=5, help="number of folds (default 5)")
    c.add_argument("--seed", type=int, default=0, help="seed of repeat 0; repeat r uses seed + r")
    c.add_argument("--repeats", type=int, default=1,
                   help="independent K-fold partitions stored in this split version (default 1)")
    c.add_argument("--test-share", type=float, default=0.0,
                   help="share of patients held out as a test set (default 0)")
    c.set_defaults(func=run_create)
    ls = verbs.add_parser("list", help="list stored split versions")
    ls.add_argument("project")
    ls.set_defaults(func=run_list)
    sh = verbs.add_parser("show", help="fold balance of a split")
    sh.add_argument("project")
    sh.add_argument("--name", default="default")
    sh.add_argument("--version", type=int)
    sh.set_defaults(func=run_show)


def _print_balance(split) -> None:
    print(f"split {split.name} v{split.version}: k={split.k} repeats={split.repeats} seed={split.seed} "
          f"test_share={split.test_share}")
    print(f"{'repeat':>6} {'fold':>6} {'images':>7} {'patients':>9} {'AFF':>5} {'AFF pat.':>8} "
          f"{'AFF share':>10}")
    for r in range(split.repeats):
        for b in fold_balance(split.plan_for(r)):
            if b.fold == TEST_FOLD and r:
                continue  # the held-out test set is the same in every repeat
            name = "test" if b.fold == TEST_FOLD else str(b.fold)
            rep = "-" if b.fold == TEST_FOLD else str(r)
            print(f"{rep:>6} {name:>6} {b.images:>7} {b.patients:>9} {b.aff_images:>5} "
                  f"{b.aff_patients:>8} {b.aff_share:>10.3f}")


def run_create(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        try:
            split = create_split(project, args.name, k=args.k, seed=args.seed,
                                 test_share=args.test_share, repeats=args.repeats)
        except (ValueError, LeakageError) as exc:
            raise CliError(str(exc)) from None
        _print_balance(split)
    return 0


def run_list(args) -> int:
    with open_project(args.project) as project:
        for r in list_splits(project):
            print(f"{r['name']} v{r['version']}: k={r['k']} repeats={r['repeats']} seed={r['seed']} "
                  f"test_share={r['test_share']} images={r['images']} ({r['created_at']})")
    return 0


def run_show(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        try:
            _print_balance(load_split(project, args.name, args.version))
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
    return 0
