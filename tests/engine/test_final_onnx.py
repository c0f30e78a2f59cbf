"""ONNX export of a final model (one graph) round-tripped through onnxruntime, and the model card."""

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from engine.cli import main  # noqa: E402
from engine.evaluate import experiment_results  # noqa: E402
from engine.final import finalize, run_onnx, score_images  # noqa: E402
from engine.splits import load_split  # noqa: E402
from engine.store import Project  # noqa: E402
from engine.train import prepare_images  # noqa: E402
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base  # noqa: E402


def test_onnx_round_trip_and_model_card(tmp_path_factory, tmp_path, capsys):
    import onnx

    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path)
    from engine.explain import explain_experiment

    with Project.open(path) as project:
        final = finalize(project, A)
        explain_experiment(project, A, "gradcam")
    assert main(["evaluate", str(path), "-e", A, "--on", "test", "--n-boot", "200", "--device", "cpu"]) == 0
    out = tmp_path / "export" / "aff.onnx"
    out.parent.mkdir()
    capsys.readouterr()
    assert main(["export-model", str(path), "-e", A, "--onnx", str(out), "--card"]) == 0
    printed = capsys.readouterr().out
    assert "RESULT onnx_max_abs_difference" in printed and "aff_card.md" in printed
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["opset"] == 18 and manifest["input"]["shape"] == ["batch", 1, 64, 64]
    assert manifest["check"]["max_abs_difference"] <= 1e-4 and manifest["members"] == 2
    model = onnx.load(str(out))
    assert model.opset_import[0].version == 18
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["aff_workbench.provenance"])["members"] == final.provenance["members"]
    with Project.open(path) as project:
        ids = load_split(project, "default").test_ids()
        pixels = prepare_images(project, ids, 64, "cpu").numpy().astype(np.float32)
        torch_p = score_images(project, final, ids)
        results = experiment_results(project, A)
    for batch in (pixels, pixels[:1], pixels[:3]):  # the batch dimension is dynamic
        np.testing.assert_allclose(run_onnx(out, batch), torch_p[:len(batch)], atol=1e-4)
    card = json.loads((tmp_path / "export" / "aff_card.json").read_text())
    assert card["internal"]["patient"]["auc"] == pytest.approx(results.patient.auc.auc)
    assert [e["kind"] for e in card["evaluations"]] == ["test"]
    assert card["training_data"]["held_out_test_images"] == len(ids)
    assert any("No external validation" in x for x in card["known_limits"])
    md = (tmp_path / "export" / "aff_card.md").read_text()
    for heading in ("## Intended use", "## Training data", "## Results", "## Explainability",
                    "## Known limits"):
        assert heading in md
    assert [s["method"] for s in card["explainability"]] == ["gradcam"]
    assert "- gradcam: 48 maps, no ROI to measure them against" in md
    assert "| internal (cross-validation) | patient |" in md and "| held-out test (split default v2) |" in md


def test_export_refuses_a_wrong_name(tmp_path_factory, tmp_path, capsys):
    path = held_out_study(shared_base(tmp_path_factory))
    assert main(["export-model", str(path), "-e", A, "--onnx", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert "must end in .onnx" in err or "has no final model" in err
    assert not list(tmp_path.iterdir())
