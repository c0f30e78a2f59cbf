"""``affengine weights [import FILE --model M | fetch M...]``: the ImageNet weights on this machine."""

from __future__ import annotations


def add_parser(sub) -> None:
    w = sub.add_parser("weights", help="the weights folder and which models have ImageNet weights; "
                                       "import or fetch weights")
    w.add_argument("--folder", help="weights folder (default: $AFFWB_WEIGHTS_DIR, else the "
                                    "application data folder's weights/)")
    w.set_defaults(func=run_status)
    verbs = w.add_subparsers(dest="verb", metavar="VERB")
    i = verbs.add_parser("import", help="check a weights file against a model and store it")
    i.add_argument("file", help="a .safetensors file or a weights_only PyTorch state dict")
    i.add_argument("--model", required=True, help="registered model name (affengine models)")
    i.add_argument("--folder", dest="folder_", help="weights folder (default as above)")
    i.set_defaults(func=run_import)
    f = verbs.add_parser("fetch", help="download models' ImageNet weights (needs internet)")
    f.add_argument("models", nargs="+", metavar="MODEL")
    f.add_argument("--folder", dest="folder_", help="weights folder (default as above)")
    f.set_defaults(func=run_fetch)


def _folder(args):
    return getattr(args, "folder_", None) or args.folder


def run_status(args) -> int:
    from pathlib import Path

    from engine.models import weights_dir, weights_status

    folder = Path(_folder(args)).expanduser() if _folder(args) else weights_dir()
    state = "" if folder.is_dir() else " (does not exist yet)"
    print(f"weights folder: {folder}{state}")
    rows = weights_status(folder)
    for src in rows:
        where = str(src.path) if src.available else f"missing (hub: {src.hf_hub_id or 'none'})"
        print(f"{src.model:34} {src.kind:9} {where}")
    missing = [s.model for s in rows if not s.available]
    if missing:
        print(f"{len(missing)} model(s) without ImageNet weights: 'affengine weights import FILE --model M' "
              "or 'affengine weights fetch M ...' puts them in the folder above")
    return 0


def _fail(exc) -> None:
    from engine.cli._errors import CliError

    raise CliError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None


def run_import(args) -> int:
    from engine.errors import EngineError
    from engine.models import WeightsNotFoundError, import_weights

    try:
        stored = import_weights(args.file, args.model, _folder(args))
    except (WeightsNotFoundError, KeyError, EngineError) as exc:
        _fail(exc)
    print(f"{stored.model}: stored {stored.tensors} tensors as {stored.path} (sha256 {stored.sha256})")
    return 0


def run_fetch(args) -> int:
    from engine.errors import EngineError
    from engine.models import WeightsNotFoundError, fetch_weights

    for name in args.models:
        try:
            stored = fetch_weights(name, _folder(args))
        except (WeightsNotFoundError, KeyError, EngineError) as exc:
            _fail(exc)
        print(f"{stored.model}: downloaded and stored as {stored.path} (sha256 {stored.sha256})")
    return 0
