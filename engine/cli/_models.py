"""``affengine models``: the registry (``affengine weights`` is in ``engine/cli/_weights.py``)."""

from __future__ import annotations

from engine.models import FAMILIES, get_entry, list_models


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list the registered architectures")
    p.add_argument("--family", choices=FAMILIES)
    p.add_argument("--tiny", action="store_true", help="only the tiny test models")
    p.set_defaults(func=run_models)


def run_models(args) -> int:
    print(f"{'name':34} {'family':7} {'input':>5}  heatmap layer")
    for name in list_models(args.family, True if args.tiny else None):
        e = get_entry(name)
        print(f"{name:34} {e.family:7} {e.input_size:>5}  {e.target_layer} ({e.reshape})")
    return 0
