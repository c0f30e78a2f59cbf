"""``affengine export-model``: a final model as ONNX (one graph), optionally with its model card."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export-model", help="write an experiment's final model as ONNX (and a model card with --card)",
        description="The newest final model of the experiment (affengine finalize) as one ONNX graph: "
                    "input 'pixels' float32 [batch, 1, S, S] (letterboxed grey levels 0..255), output "
                    "'p_aff' [batch]; OUT.json states opset, input shape and pre-processing. The export is "
                    "checked with onnxruntime against torch (within 1e-4). --card writes OUT_card.md and "
                    "OUT_card.json.")
    p.add_argument("project")
    p.add_argument("-e", "--experiment", required=True, metavar="NAME")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx")
    p.add_argument("--card", action="store_true", help="also write the model card (Markdown + JSON)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    p.set_defaults(func=run_export_model)


def run_export_model(args) -> int:
    from engine.cli._common import open_project
    from engine.final import export_onnx, latest_final_model, write_card

    with open_project(args.project) as project:
        final = latest_final_model(project, args.experiment)
        manifest = export_onnx(project, final, args.onnx, opset=args.opset)
        print(f"{args.onnx}: {final.label}, opset {manifest['opset']}, input {manifest['input']['shape']}, "
              f"onnxruntime vs torch max |diff| {manifest['check']['max_abs_difference']:.2e}")
        if args.card:
            for path in write_card(project, final, args.onnx):
                print(path)
    print(f"RESULT onnx_max_abs_difference {manifest['check']['max_abs_difference']:.3e}", file=sys.stdout)
    return 0
