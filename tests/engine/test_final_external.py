"""External validation: final models of a phantom site applied to another phantom site."""

import argparse
import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.cli import _evaluate
from engine.final import FinalModelError, evaluate_final_models, finalize, load_final_module, score_pixels
from engine.final._model import letterboxed
from engine.store import Project
from engine.train import prepare_images
from tests.engine._final_factory import A, B, phantom_sites


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    dev, ext = phantom_sites(tmp_path_factory.getbasetemp() / "phantom-sites")
    with Project.open(dev) as project:
        finalize(project, A)
        finalize(project, B)
    return dev, ext


def _cli(argv) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    _evaluate.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_external_project_scored_with_the_same_preprocessing(sites, tmp_path, capsys):
    dev, ext = sites
    before = sorted(p.name for p in (ext / "cache").iterdir())
    argv = ["evaluate", str(dev), "-e", A, B, "--on", str(ext), "--n-boot", "200", "--device", "cpu"]
    assert _cli(argv) == 0
    out = capsys.readouterr().out
    assert f"RESULT external_patient_auc_{A}" in out and "external: Site2" in out
    assert sorted(p.name for p in (ext / "cache").iterdir()) == before  # nothing written at the other site
    with Project.open(dev) as project:
        folder = sorted((project.path / "evaluations").iterdir())[-1]
        ev = json.loads((folder / "evaluation.json").read_text())
        final = finalize(project, A)
        module = load_final_module(project, final)
    with Project.open(ext) as other:
        labelled = {i: lab for i, lab in other.labels.all().items() if lab in ("AFF", "NFF")}
        ids = np.array(sorted(labelled))
        y = np.array([labelled[i] == "AFF" for i in ids], int)
        squares = letterboxed(other, ids, final.image_size)
    # the in-memory squares are exactly what training's sized cache makes (on a copy of the site)
    copy = shutil.copytree(ext, tmp_path / "Site2copy.affproj")
    with Project.open(copy) as c:
        assert np.array_equal(prepare_images(c, ids, final.image_size, "cpu").numpy(), squares.numpy())
    assert ev["kind"] == "external" and ev["data"]["images"] == len(ids)
    assert ev["data"]["aff_images"] == y.sum()
    e = next(x for x in ev["experiments"] if x["experiment"] == A)
    s = score_pixels(module, squares)
    assert e["image"]["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-6)
    rc = e["patient"]["recalibration"]
    assert {"citl", "slope", "observed_expected", "note"} <= set(rc)
    for p in e["patient"]["operating_points"]:
        assert p["threshold"] == final.provenance["thresholds"]["patient"][p["rule"]]
        assert p["fixed_on"] == "cross-validation"
    assert e["never_seen"]["overlap"] == 0
    assert len(ev["comparisons"]) == 1 and ev["comparisons"][0]["p_boot"] is not None
    # the study report shows it as its own section, apart from cross-validation
    from engine.report import build_report_data

    with Project.open(dev) as project:
        data = build_report_data(project, [A, B], n_boot=200)
    (section,) = data.evaluations
    assert section["kind"] == "external" and section["target"] == "external: Site2"
    assert data.experiments[0].patient.n_cases == 20  # the development patients only


def test_external_refusals(sites, tmp_path):
    dev, ext = sites
    with Project.open(dev) as project:
        with pytest.raises(FinalModelError, match="is the development project itself"):
            evaluate_final_models(project, [A], str(dev))
        with pytest.raises(FinalModelError, match="neither 'test' nor an existing project"):
            evaluate_final_models(project, [A], str(tmp_path / "nowhere.affproj"))
        with pytest.raises(FinalModelError, match="holds out no test patients"):
            evaluate_final_models(project, [A], "test")
    # a "site" that holds a development radiograph is not external
    twin = shutil.copytree(dev, tmp_path / "Twin.affproj")
    with Project.open(dev) as project:
        with pytest.raises(FinalModelError, match="also in the development project"):
            evaluate_final_models(project, [A], str(twin))


def test_explain_runs_on_the_external_images(sites, capsys):
    from engine.cli import main
    from engine.explain import read_heatmaps

    dev, ext = sites
    assert main(["explain", str(dev), "--experiment", A, "--on", str(ext), "--device", "cpu"]) == 0
    npz = capsys.readouterr().out.strip().splitlines()[-1]
    assert npz.endswith("heatmaps/gradcam.npz") and "/evaluations/explain-" in npz
    maps = read_heatmaps(npz.rsplit("/heatmaps/", 1)[0], "gradcam")
    with Project.open(ext) as other:
        labelled = sorted(i for i, lab in other.labels.all().items() if lab in ("AFF", "NFF"))
        squares = letterboxed(other, labelled, 64)
    with Project.open(dev) as project:
        ensemble = score_pixels(load_final_module(project, finalize(project, A)), squares)
    np.testing.assert_array_equal(maps.image_ids, labelled)
    assert maps.maps.shape[1:] == (2, 2) and np.isfinite(maps.maps.astype(float)).all()
    assert maps.info["members"] == 2 and maps.info["target"] == "external: Site2"
    np.testing.assert_allclose(maps.probability, ensemble, atol=1e-5)
