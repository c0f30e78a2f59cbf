"""``affengine models`` and ``affengine weights``: the registry and its weights."""

from __future__ import annotations

from engine.models import FAMILIES, find_weights, get_entry, list_models


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the registered architectures")
    p.add_argument("--family", choices=FAMILIES)
    p.add_argument("--tiny", action="store_true", help="only the tiny test models")
    p.set_defaults(func=run_models)

    w = sub.add_parser("weights", help="which models have ImageNet weights on this machine")
    w.add_argument("--folder", help="weights folder (default: $AFFWB_WEIGHTS_DIR)")
    w.set_defaults(func=run_weights)


def run_models(args) -> int:
    print(f"{'name':34} {'family':7} {'input':>5}  heatmap layer")
    for name in list_models(args.family, True if args.tiny else None):
        e = get_entry(name)
        print(f"{name:34} {e.family:7} {e.input_size:>5}  {e.target_layer} ({e.reshape})")
    return 0


def run_weights(args) -> int:
    for name in list_models():
        src = find_weights(name, folder=args.folder)
        where = str(src.path) if src.available else f"missing (hub: {src.hf_hub_id})"
        print(f"{name:34} {src.kind:9} {where}")
    return 0
