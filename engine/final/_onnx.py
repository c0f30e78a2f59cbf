"""ONNX export of a final model: the whole ensemble as one graph, checked with onnxruntime.

Graph: input ``pixels`` float32 ``[batch, 1, S, S]`` (letterboxed grey levels 0..255, see
``PREPROCESSING``), output ``p_aff`` float32 ``[batch]`` (the members' mean P(AFF)); normalisation
and the softmax are inside the graph. Exported with ``torch.onnx.export(dynamo=True)`` (needs
``onnxscript``), batch dimension dynamic. Beside ``OUT.onnx`` goes ``OUT.json`` (the manifest:
opset, input shape, pre-processing, provenance, the file's SHA-256 and the round-trip check).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.final._members import FinalModelError
from engine.final._store import PREPROCESSING, FinalModel, file_sha256

if TYPE_CHECKING:
    from engine.store import Project

OPSET = 18
TOLERANCE = 1e-4
INPUT, OUTPUT = "pixels", "p_aff"


def _require():
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as exc:
        raise FinalModelError(f"ONNX export needs the onnx extra ({exc.name} is not installed); install "
                              "it with: pip install 'aff-workbench[onnx]'") from None
    return onnx, onnxruntime


def run_onnx(path: str | Path, pixels: np.ndarray) -> np.ndarray:
    """P(AFF) of float32 ``(N, 1, S, S)`` grey levels from an exported file, with onnxruntime on the CPU."""
    _, ort = _require()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT], {INPUT: np.ascontiguousarray(pixels, np.float32)})[0]


def export_onnx(project: Project, final: FinalModel, out: str | Path, opset: int = OPSET,
                check_pixels: np.ndarray | None = None) -> dict:
    """Write ``out`` (.onnx) and its manifest ``out`` with ``.json``; returns the manifest.

    The export is refused (nothing left behind) when onnxruntime's output on ``check_pixels``
    (default: 4 of the split's images) differs from torch's by more than 1e-4.
    """
    import torch

    from engine.final._model import load_final_module

    onnx, _ = _require()
    out = Path(out)
    if out.suffix != ".onnx":
        raise FinalModelError(f"{out}: the output file must end in .onnx")
    if not out.parent.is_dir():
        raise FinalModelError(f"{out.parent}: no such folder")
    module = load_final_module(project, final, "cpu")
    size = final.image_size
    if check_pixels is None:
        check_pixels = _sample_pixels(project, final)
    x = torch.from_numpy(np.asarray(check_pixels, np.float32))
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        batch = torch.export.Dim("batch", min=1)
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its steps
            program = torch.onnx.export(module, (x,), dynamo=True, opset_version=opset,
                                        input_names=[INPUT], output_names=[OUTPUT],
                                        dynamic_shapes={"pixels": {0: batch}}, external_data=False)
        model = program.model_proto
        for key, value in (("aff_workbench.final_model_id", str(final.id)),
                           ("aff_workbench.experiment", final.experiment),
                           ("aff_workbench.preprocessing", json.dumps(PREPROCESSING)),
                           ("aff_workbench.provenance", json.dumps(final.provenance, sort_keys=True))):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model)
        onnx.save_model(model, str(tmp))
        with torch.inference_mode():
            expected = module(x).numpy()
        got = run_onnx(tmp, x.numpy())
        diff = float(np.max(np.abs(got - expected)))
        if not diff <= TOLERANCE:
            raise FinalModelError(f"{final.label}: onnxruntime differs from torch by {diff:.2e} "
                                  f"(> {TOLERANCE:g}); not exported")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    manifest = {
        "file": out.name, "sha256": file_sha256(out), "format": "one graph (all members inside)",
        "opset": opset, "input": {"name": INPUT, "dtype": "float32", "shape": ["batch", 1, size, size]},
        "output": {"name": OUTPUT, "dtype": "float32", "shape": ["batch"],
                   "meaning": "P(AFF), mean of the members' softmax probability of AFF"},
        "members": len(final.members), "preprocessing": PREPROCESSING,
        "normalisation_in_graph": {"mean": final.provenance["mean"], "std": final.provenance["std"]},
        "check": {"runtime": "onnxruntime CPUExecutionProvider", "images": int(len(x)),
                  "max_abs_difference": diff, "tolerance": TOLERANCE},
        "final_model": final.to_json(),
    }
    manifest_path = out.with_suffix(".json")
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _sample_pixels(project: Project, final: FinalModel) -> np.ndarray:
    from engine.splits import load_split
    from engine.train import prepare_images

    s = final.provenance["split"]
    ids = load_split(project, s["name"], s["version"]).plan.image_ids[:4]
    return prepare_images(project, ids, final.image_size, "cpu").numpy().astype(np.float32)
