"""``affengine study create --preset cnn-vs-vit``: every arm under one R, S, N; refused without weights."""

import pytest

from engine.cli import main
from engine.experiments import experiment_jobs, list_experiments, preset_arms
from engine.splits import create_split
from engine.store import Project
from tests.engine._train_factory import make_project


@pytest.fixture
def project(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setenv("AFFWB_WEIGHTS_DIR", str(tmp_path / "weights"))
    path = make_project(tmp_path / "P", patients=16, per_patient=2, k=2)
    with Project.open(path) as p:
        create_split(p, "cv", k=2, seed=0, repeats=2)
    return path


def test_full_preset_has_eight_arms():
    arms = preset_arms("cnn-vs-vit")
    assert [a.name for a in arms] == [f"{m}-{k}" for m in ("resnet50", "vit_base_patch16_224", "densenet121",
                                                          "deit_small_patch16_224")
                                      for k in ("pretrained", "scratch")]


def test_missing_weights_refuse_the_preset_and_drop_missing_leaves_those_arms_out(project, tmp_path, capsys):
    args = ["study", "create", str(project), "--quick", "--split", "cv", "--tune-trials", "2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "resnet10t-pretrained" in err and str(tmp_path / "weights") in err
    assert "affengine weights fetch resnet10t vit_tiny_patch16_224" in err and "--drop-missing" in err
    with Project.open(project) as p:
        assert list_experiments(p) == []  # nothing queued
    assert main(args + ["--drop-missing", "--seeds", "2"]) == 0
    assert "2 experiment(s), 16 job(s) queued" in capsys.readouterr().out  # 2 arms x R2 x K2 x S2
    with Project.open(project) as p:
        exps = {e.name: e for e in list_experiments(p)}
        assert set(exps) == {"resnet10t-scratch", "vit_tiny_patch16_224-scratch"}
        for e in exps.values():
            assert (e.spec["image_size"], e.spec["epochs"], e.spec["tune_trials"]) == (128, 12, 2)
            assert e.spec["recipe"] in ("cnn-scratch", "vit-scratch") and e.spec["orientation"] == "canonical"
        labels = [j.label for j in experiment_jobs(p, "resnet10t-scratch")]
        assert labels == [f"r{r}f{f}s{s}" for r in (0, 1) for f in (0, 1) for s in (0, 1)]
    assert main(args + ["--drop-missing"]) == 2
    assert "already exist" in capsys.readouterr().err


def test_imported_weights_enable_the_pretrained_arm(project, tmp_path, capsys):
    import timm
    from safetensors.torch import save_file

    src = tmp_path / "r10.safetensors"
    save_file(timm.create_model("resnet10t", pretrained=False).state_dict(), str(src))
    assert main(["weights", "import", str(src), "--model", "resnet10t"]) == 0
    assert main(["study", "create", str(project), "--quick", "--split", "cv", "--repeats", "1",
                 "--drop-missing"]) == 0
    out = capsys.readouterr().out
    assert "3 experiment(s), 6 job(s) queued" in out and "resnet10t-pretrained" in out
