"""``affengine reads ...``: reading sessions, agreement, simulated readers, disagreement queue,
adjudication and readers against a model (see docs/reader_study.md)."""

from __future__ import annotations

import getpass
import json
import sys

from engine.cli._common import open_project
from engine.cli._errors import CliError
from engine.store import LABELS, VIEWS


def _sessions_arg(p, required: bool = True) -> None:
    p.add_argument("--sessions", "-s", nargs="+", required=required, metavar="NAME",
                   help="reading sessions to compare (at least 2)")


def _image_set_args(p) -> None:
    g = p.add_argument_group("image set (default: the whole project)")
    g.add_argument("--sample", type=int, metavar="N", help="N random patients (all their images)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random sample (default 0)")
    g.add_argument("--label", choices=(*LABELS, "unlabelled"), help="filter: current label")
    g.add_argument("--view", choices=VIEWS, help="filter: view")
    g.add_argument("--laterality", choices=("L", "R"), help="filter: laterality")
    g.add_argument("--patient", help="filter: one patient key")
    g.add_argument("--search", help="filter: substring of the patient key or path")
    g.add_argument("--split", help="a stored split: read one fold of it (with --fold)")
    g.add_argument("--fold", help="the split's fold (0..K-1) or 'test' for the held-out test set")
    g.add_argument("--split-version", type=int, help="split version (default: the latest)")
    g.add_argument("--repeat", type=int, default=0, help="repeat of a repeated split (default 0)")


def add_parser(sub) -> None:
    p = sub.add_parser("reads", help="reader studies: reading sessions, agreement, adjudication")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    c = verbs.add_parser("create", help="create a reading session for one reader")
    c.add_argument("project")
    c.add_argument("--name", required=True, help="session name (unique in the project)")
    c.add_argument("--reader", required=True, help="the reader's name")
    c.add_argument("--blind", action="store_true",
                   help="blind: no labels, predictions or other reads shown; patients in random order")
    c.add_argument("--confidence", action="store_true", help="ask for a 1-5 confidence with each read")
    _image_set_args(c)
    c.set_defaults(func=run_create)

    ls = verbs.add_parser("list", help="list the reading sessions")
    ls.add_argument("project")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    ex = verbs.add_parser("export", help="write a session's reads as CSV")
    ex.add_argument("project")
    ex.add_argument("--name", required=True, help="session name")
    ex.add_argument("--out", "-o", required=True, help="CSV file to write")
    ex.add_argument("--all", action="store_true", help="every read row (default: the latest per image)")
    ex.set_defaults(func=run_export)

    ag = verbs.add_parser("agreement", help="Cohen's / weighted / Fleiss' kappa between sessions, with CIs")
    ag.add_argument("project")
    _sessions_arg(ag)
    ag.add_argument("--level", choices=("image", "patient"), default="image")
    ag.add_argument("--json", action="store_true")
    ag.set_defaults(func=run_agreement)

    si = verbs.add_parser("simulate", help="simulated readers on phantom data (one session per reader)")
    si.add_argument("project")
    si.add_argument("--readers", type=int, default=2)
    si.add_argument("--sensitivity", type=float, default=0.7)
    si.add_argument("--specificity", type=float, default=0.95)
    si.add_argument("--seed", type=int, default=0)
    si.add_argument("--prefix", default="sim", help="session names PREFIX-1, PREFIX-2, ... (default sim)")
    si.add_argument("--size-effect", type=float, default=1.0,
                    help="how much more subtle (small-feature) AFF are missed (0 = not at all; default 1)")
    si.add_argument("--manifest", help="phantom manifest.csv (default: found beside the images)")
    si.add_argument("--sample", type=int, metavar="N", help="read N random patients only")
    si.set_defaults(func=run_simulate)

    q = verbs.add_parser("queue", help="the disagreement queue: images or patients where readers differ")
    q.add_argument("project")
    _sessions_arg(q)
    q.add_argument("--level", choices=("image", "patient"), default="image")
    q.add_argument("--all", action="store_true", help="include items already adjudicated")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_queue)

    ad = verbs.add_parser("adjudicate", help="settle disagreements: a rule, or one image/patient by hand")
    ad.add_argument("project")
    _sessions_arg(ad)
    ad.add_argument("--rule", choices=("majority", "any-aff"), help="settle every image by this rule; "
                    "ties stay in the queue")
    ad.add_argument("--image", type=int, nargs="+", metavar="ID", help="image id(s) to set by hand")
    ad.add_argument("--patient", help="a patient key: set all its images by hand")
    ad.add_argument("--set", dest="label", choices=LABELS,
                    help="the consensus label (with --image/--patient)")
    ad.add_argument("--level", choices=("image", "patient"), default="image", help="level for --rule")
    ad.add_argument("--adjudicator", help="who decides (default: the rule, or your user name)")
    ad.set_defaults(func=run_adjudicate)

    cm = verbs.add_parser("compare", help="readers against an experiment's out-of-fold predictions (+ MRMC)")
    cm.add_argument("project")
    _sessions_arg(cm)
    cm.add_argument("--experiment", "-e", required=True)
    cm.add_argument("--level", choices=("image", "patient"), default="image")
    cm.add_argument("--rule", choices=("youden", "sens90"), default="youden",
                    help="the model's threshold rule, applied on each fold's training predictions")
    cm.add_argument("--json", action="store_true")
    cm.set_defaults(func=run_compare)


def _image_set(args):
    from engine.reads import ImageSet

    filt = {k: getattr(args, k) for k in ("label", "view", "laterality", "patient", "search")
            if getattr(args, k, None) is not None}
    if args.split or args.fold is not None:
        if filt:
            raise CliError("choose either a filter (--label/--view/...) or a split fold (--split --fold)")
        if not (args.split and args.fold is not None):
            raise CliError("a split fold needs both --split NAME and --fold F")
        fold = -1 if args.fold == "test" else _int(args.fold, "--fold")
        return ImageSet(kind="fold", split=args.split, split_version=args.split_version, fold=fold,
                        repeat=args.repeat, sample=args.sample, seed=args.seed)
    return ImageSet(kind="filter" if filt else "all", filter=filt, sample=args.sample, seed=args.seed)


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CliError(f"{flag} needs a number or 'test', not {text!r}") from None


def run_create(args) -> int:
    from engine.reads import create_session

    with open_project(args.project) as project:
        s = create_session(project, args.name, args.reader, _image_set(args),
                           mode="blind" if args.blind else "open", confidence=args.confidence)
    print(f"created reading session {s.name}: reader {s.reader}, {s.mode}, {s.n_images} images "
          f"({s.image_set.describe()})")
    return 0


def run_list(args) -> int:
    from engine.reads import list_sessions, progress

    with open_project(args.project) as project:
        rows = [(s, progress(project, s)[0]) for s in list_sessions(project)]
    if args.json:
        print(json.dumps([{"name": s.name, "reader": s.reader, "mode": s.mode, "confidence": s.confidence,
                           "images": s.n_images, "read": done, "source": s.source,
                           "image_set": s.image_set.describe(), "created_at": s.created_at}
                          for s, done in rows], indent=1))
        return 0
    if not rows:
        print("no reading sessions")
        return 0
    print(f"{'session':<20} {'reader':<22} {'mode':<6} {'read':>11}  image set")
    for s, done in rows:
        print(f"{s.name:<20} {s.reader:<22} {s.mode:<6} {done:>5}/{s.n_images:<5}  {s.image_set.describe()}")
    return 0


def run_export(args) -> int:
    from engine.reads import export_reads_csv

    with open_project(args.project) as project:
        n = export_reads_csv(project, args.name, args.out, all_rows=args.all)
    print(f"wrote {n} reads to {args.out}", file=sys.stderr)
    return 0


def _ci(k) -> str:
    return f"{k.kappa:.3f} (95% CI {k.ci_low:.3f} to {k.ci_high:.3f})"


def run_agreement(args) -> int:
    from engine.evaluate import reader_agreement

    if len(set(args.sessions)) < 2:
        raise CliError("name at least 2 reading sessions with --sessions")
    with open_project(args.project) as project:
        from engine.reads import get_session

        for s in args.sessions:
            get_session(project, s)
        ag = reader_agreement(project, args.sessions, args.level)
    if args.json:
        print(json.dumps(ag.to_json(), indent=1, allow_nan=True))
        return 0
    print(f"agreement at {ag.level} level")
    if not ag.pairs:
        print("  the sessions have no image in common")
    for p in ag.pairs:
        extra = (f"; patient-bootstrap CI {p.patient_ci[0]:.3f} to {p.patient_ci[1]:.3f}"
                 if p.patient_ci else "")
        print(f"  {p.first} vs {p.second} (n={p.n}): Cohen's kappa {_ci(p.kappa)}{extra}; "
              f"agreement {p.kappa.observed:.1%}; weighted kappa (score scale) {_ci(p.weighted)}")
        sa = ", ".join(f"{c} {v:.3f}" for c, v in p.kappa.specific_agreement.items() if v == v)
        print(f"    specific agreement: {sa}")
    if ag.fleiss is not None and len(ag.sessions) > 2:
        f = ag.fleiss
        print(f"  Fleiss' kappa over {f.n_raters} sessions (n={f.n_subjects}): {f.kappa:.3f} "
              f"(95% bootstrap CI {f.ci_low:.3f} to {f.ci_high:.3f})")
    for v in ag.vs_labels:
        print(f"  {v.session} vs current labels (n={v.n}): kappa {_ci(v.kappa)}")
    return 0


def run_simulate(args) -> int:
    from engine.reads import ImageSet, simulate_readers

    image_set = ImageSet(sample=args.sample, seed=args.seed) if args.sample else None
    with open_project(args.project) as project:
        sessions = simulate_readers(project, args.readers, args.sensitivity, args.specificity, args.seed,
                                    image_set, args.manifest, args.prefix, args.size_effect)
        from engine.reads import progress

        for s in sessions:
            print(f"simulated {s.name} ({s.reader}): {progress(project, s)[0]} of {s.n_images} images read")
    return 0


def run_queue(args) -> int:
    from engine.reads import disagreement_queue

    with open_project(args.project) as project:
        q = disagreement_queue(project, args.sessions, args.level, include_settled=args.all)
    if args.json:
        print(json.dumps([{"patient": x.patient_key, "image_ids": list(x.image_ids), "calls": x.calls,
                           "current_labels": {str(k): v for k, v in x.current_labels.items()}} for x in q],
                         indent=1))
        return 0
    print(f"{len(q)} {args.level}(s) where the readers differ")
    for x in q:
        calls = ", ".join(f"{s} {lab}" for s, lab in x.calls.items())
        ids = ",".join(map(str, x.image_ids))
        print(f"  {x.patient_key:<12} image {ids:<12} {calls}")
    return 0


def run_adjudicate(args) -> int:
    from engine.reads import adjudicate, auto_adjudicate, get_session

    manual = args.image is not None or args.patient is not None
    if manual == bool(args.rule):
        raise CliError("give either --rule, or --image/--patient with --set LABEL")
    with open_project(args.project) as project:
        for s in args.sessions:
            get_session(project, s)
        if args.rule:
            res = auto_adjudicate(project, args.sessions, args.rule, args.adjudicator, args.level)
            print(f"{args.rule}: settled {len(res.settled)} image(s); {len(res.queued)} tie(s) left in the "
                  f"queue; {res.skipped_incomplete} image(s) not read in every session")
            return 0
        if args.label is None:
            raise CliError("--image/--patient needs --set LABEL (AFF, NFF, uncertain or exclude)")
        ids = list(args.image or [])
        if args.patient is not None:
            rows = project.images.patient_images(args.patient)
            if not rows:
                raise CliError(f"no patient {args.patient!r} in {project.path}")
            ids += [r.id for r in rows]
        done = adjudicate(project, ids, args.label, args.adjudicator or getpass.getuser(), args.sessions)
    print(f"set {args.label} on {len(done)} image(s) (source adjudication), settling "
          f"{sum(len(a.read_ids) for a in done)} read(s)")
    return 0


def run_compare(args) -> int:
    from engine.evaluate import readers_vs_model
    from engine.reads import get_session

    with open_project(args.project) as project:
        for s in args.sessions:
            get_session(project, s)
        try:
            r = readers_vs_model(project, args.sessions, args.experiment, args.level, args.rule)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(r.to_json(), indent=1, allow_nan=True))
        return 0
    m = r.model
    print(f"{r.n_cases} {r.level}s ({r.n_aff} AFF) read in every session and predicted by {r.experiment}")
    print(f"  model {m.name}: sensitivity {m.sensitivity:.3f} ({m.sensitivity_ci[0]:.3f}-"
          f"{m.sensitivity_ci[1]:.3f}), specificity {m.specificity:.3f} ({m.specificity_ci[0]:.3f}-"
          f"{m.specificity_ci[1]:.3f}), AUC {m.auc:.3f}")
    for x in r.readers:
        p = x.point
        print(f"  {x.session} ({x.reader}): sensitivity {p.sensitivity:.3f} ({p.sensitivity_ci[0]:.3f}-"
              f"{p.sensitivity_ci[1]:.3f}), specificity {p.specificity:.3f} ({p.specificity_ci[0]:.3f}-"
              f"{p.specificity_ci[1]:.3f}), AUC {p.auc:.3f}; misses {len(x.missed_found_by_model)} AFF the "
              f"model finds, finds {len(x.found_missed_by_model)} AFF the model misses")
    if r.mrmc is not None:
        mr = r.mrmc
        print(f"  MRMC (Obuchowski-Rockette, {mr.n_readers} readers): mean reader AUC "
              f"{mr.reader_mean_auc:.3f} - model AUC {mr.model_auc:.3f} = {mr.difference:+.3f} "
              f"(95% CI {mr.ci_low:+.3f} to "
              f"{mr.ci_high:+.3f}, df {mr.df:.1f}, p {mr.p_value:.3g})")
    return 0
