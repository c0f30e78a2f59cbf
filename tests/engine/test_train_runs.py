"""Whole training runs on CPU: outputs, resume after SIGKILL, out-of-memory, cancel, CLI."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.runs import read_events
from engine.splits import load_split
from engine.store import Project
from engine.train import (
    SpecError,
    load_checkpoint,
    load_run_model,
    read_predictions,
    read_run_config,
    train_run,
)
from engine.train._evaluate import auc
from tests.engine._train_factory import make_project, tiny_spec

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("resnet10t", "vit_tiny_patch16_224")
TIMING = {"epoch_seconds", "train_seconds", "val_seconds", "train_images_per_s"}
COMPUTE_FIELDS = {
    "parameters", "forward_flops", "forward_gflops", "forward_gmacs", "image_size", "train_images_per_s",
    "peak_memory_bytes", "peak_memory_kind", "epoch_seconds", "wall_seconds_total", "latency_ms_batch1",
    "latency_ms_per_image_batched", "latency_batch", "device", "device_name", "precision",
    "effective_batch", "micro_batch", "optimizer_steps",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("train") / "Study")


@pytest.fixture(scope="module")
def runs(project, tmp_path_factory):
    """Both tiny models over both folds of the split: ``{(model, fold): (spec, result)}``."""
    out = tmp_path_factory.mktemp("runs")
    done = {}
    for model in MODELS:
        for fold in (0, 1):
            spec = tiny_spec(project, model, fold)
            done[model, fold] = spec, train_run(spec, out / f"{model}-f{fold}")
    return done


def test_folds_together_predict_every_labelled_image_once(project, runs):
    with Project.open(project) as p:
        split = load_split(p, "default")
        labels = {i: ("AFF" if y else "NFF") for i, y in zip(split.plan.image_ids, split.plan.labels)}
        stored = p.labels.all()
        patients = {r.id: r.patient_key for r in p.images.list()}
    assert len(labels) == 48 and all(stored[i] == lab for i, lab in labels.items())
    for model in MODELS:
        preds = [read_predictions(runs[model, f][1].predictions_path) for f in (0, 1)]
        ids = np.concatenate([p["image_id"] for p in preds])
        assert sorted(ids.tolist()) == sorted(labels)
        for fold, pr in enumerate(preds):
            assert (pr["fold"] == fold).all()
            assert [patients[i] for i in pr["image_id"]] == pr["patient_id"].tolist()
            assert [labels[i] == "AFF" for i in pr["image_id"]] == (pr["label"] == 1).tolist()
            assert ((pr["probability"] >= 0) & (pr["probability"] <= 1)).all()
            # Predictions come from the best epoch: their AUC is the best validation AUC.
            result = runs[model, fold][1]
            assert auc(pr["label"], pr["probability"]) == pytest.approx(result.best_val_auc, abs=1e-6)


def test_the_cnn_learns_the_bars(runs):
    for fold in (0, 1):
        result = runs["resnet10t", fold][1]
        assert result.state == "finished" and result.epochs_run == 2
        assert result.best_val_auc >= 0.8


def test_metrics_json_is_complete(runs):
    for spec, result in runs.values():
        m = json.loads(result.metrics_path.read_text())
        assert m["state"] == "finished" and m["best_epoch"] == result.best_epoch
        assert m["best_val_auc"] == result.best_val_auc and m["epochs_run"] == 2
        assert [h["epoch"] for h in m["history"]] == [1, 2]
        assert m["data"]["train_images"] + m["data"]["val_images"] == 48
        assert m["data"]["val_images"] == len(read_predictions(result.predictions_path)["image_id"])
        assert m["final"]["epoch"] == 2 and m["best"]["epoch"] == m["best_epoch"]
        for h in m["history"]:
            assert h["train_loss"] > 0 and h["val_loss"] > 0 and 0 <= h["val_bal_acc"] <= 1
            assert 0 < h["lr"] <= spec.lr and h["epoch_seconds"] > 0 and h["train_images"] == 24
        c = m["compute"]
        assert COMPUTE_FIELDS <= set(c)
        assert c["image_size"] == 64 and c["device"] == "cpu" and c["precision"] == "fp32"
        assert c["peak_memory_kind"] == "cpu_peak_rss" and c["peak_memory_bytes"] > 100e6
        assert c["train_images_per_s"] > 0 and c["latency_ms_batch1"] > 0
        assert c["latency_ms_per_image_batched"] > 0 and c["wall_seconds_total"] >= sum(c["epoch_seconds"])
        assert c["effective_batch"] == c["micro_batch"] == 8 and c["optimizer_steps"] == 6
        assert c["forward_gflops"] == pytest.approx(c["forward_flops"] / 1e9)
    # Parameter counts and forward FLOPs of the two architectures at 64 px (FLOPs: 2 per multiply-add).
    cnn = json.loads(runs["resnet10t", 0][1].metrics_path.read_text())["compute"]
    vit = json.loads(runs["vit_tiny_patch16_224", 0][1].metrics_path.read_text())["compute"]
    assert cnn["parameters"] == 4_923_082 and vit["parameters"] == 5_391_938
    assert 0.1e9 < cnn["forward_flops"] < 0.3e9 and 0.1e9 < vit["forward_flops"] < 0.3e9


def test_events_and_config(runs):
    for spec, result in runs.values():
        events = read_events(result.run_dir / "events.jsonl")
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        types = [e["type"] for e in events]
        assert types[-1] == "finished" and types.count("started") == 1 and types.count("metric") == 2
        assert "failed" not in types and "progress" in types
        progress = [e for e in events if e["type"] == "progress"]
        assert progress[-1]["step"] == progress[-1]["total"] == 6 and progress[-1]["eta_s"] == 0
        assert all(e["images_per_s"] > 0 and e["loss"] > 0 for e in progress)
        metric = [e for e in events if e["type"] == "metric"]
        assert {"train_loss", "val_loss", "val_auc", "val_bal_acc", "lr", "epoch_seconds"} <= set(metric[0])
        ckpts = [(e["name"], e["epoch"]) for e in events if e.get("kind") == "checkpoint"]
        assert ("last", 1) in ckpts and ("last", 2) in ckpts
        assert (result.run_dir / "checkpoints" / "last.pt").is_file()
        assert (result.run_dir / "checkpoints" / "best.pt").is_file()
        loaded, config = read_run_config(result.run_dir)
        assert loaded == spec
        assert config["resolved"]["split_version"] == 1 and config["resolved"]["image_size"] == 64
        assert config["versions"]["torch"] == torch.__version__ and config["device"].startswith("CPU")


def test_checkpoints_load_weights_only_and_reproduce_the_predictions(project, runs):
    spec, result = runs["resnet10t", 0]
    state = load_checkpoint(result.run_dir / "checkpoints" / "last.pt")
    assert state["epoch"] == 2 and state["step"] == 0 and state["order"] is None
    assert {"cpu", "order", "augment"} <= set(state["rng"])
    model, info = load_run_model(result.run_dir, "best")
    assert info["epoch"] == result.best_epoch and info["spec"] == spec
    preds = read_predictions(result.predictions_path)
    with Project.open(project) as p:
        from engine.train import normalise, prepare_images

        x = normalise(prepare_images(p, preds["image_id"], 64, "cpu"), info["mean"], info["std"])
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)[:, 1].numpy()
    assert np.allclose(probs, preds["probability"], atol=1e-5)


def _strip(history):
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


def test_resume_after_sigkill_gives_the_same_run(project, tmp_path):
    spec = tiny_spec(project, "resnet10t", 1, epochs=3, progress_every=1)
    reference = train_run(spec, tmp_path / "reference")

    run_dir = tmp_path / "killed"
    log = tmp_path / "killed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine._train_factory", json.dumps(spec.to_json()), str(run_dir),
             "1.0"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            events = read_events(run_dir / "events.jsonl")
            if any(e.get("name") == "last" and e.get("epoch") == 1 for e in events):
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.05)
        else:
            pytest.fail("the first epoch's checkpoint never appeared")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = read_events(run_dir / "events.jsonl")
    assert "finished" not in [e["type"] for e in before]
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1

    resumed = train_run(spec, run_dir)
    assert (resumed.best_epoch, resumed.best_val_auc) == (reference.best_epoch, reference.best_val_auc)
    ref_m = json.loads(reference.metrics_path.read_text())
    res_m = json.loads(resumed.metrics_path.read_text())
    assert _strip(res_m["history"]) == _strip(ref_m["history"])
    assert res_m["final"] == ref_m["final"] and res_m["compute"]["optimizer_steps"] == 9
    assert resumed.predictions_path.read_bytes() == reference.predictions_path.read_bytes()
    a = load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "reference" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    events = read_events(run_dir / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events].count("started") == 2
    assert any(e["type"] == "log" and "resumed from checkpoints/last.pt at epoch 2" in e["message"]
               for e in events)
    assert [e["epoch"] for e in events if e["type"] == "metric"][-2:] == [2, 3]


def test_cancel_then_resume_mid_epoch_matches_an_uninterrupted_run(runs, tmp_path):
    spec, reference = runs["resnet10t", 0]
    polls = []

    def stop():
        polls.append(1)
        return len(polls) > 4  # epoch 1 has 3 steps: stop before epoch 2's second step

    result = train_run(spec, tmp_path / "run", should_stop=stop)
    assert result.state == "cancelled" and result.epochs_run == 1 and result.best_epoch == 1
    assert result.metrics_path is None and result.predictions_path is None
    events = read_events(tmp_path / "run" / "events.jsonl")
    assert events[-1]["type"] == "cancelled" and (events[-1]["epoch"], events[-1]["step"]) == (2, 1)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert (state["epoch"], state["step"], state["seen"]) == (1, 1, 8) and len(state["order"]) == 24
    assert not (tmp_path / "run" / "metrics.json").exists()

    with pytest.raises(SpecError, match="another spec.*lr: 0.001 != 0.002"):
        train_run(spec.replace(lr=2e-3), tmp_path / "run")
    assert read_events(tmp_path / "run" / "events.jsonl")[-1]["type"] == "failed"

    # progress_every only changes how often it reports, so the run may resume with another.
    finished = train_run(spec.replace(progress_every=1), tmp_path / "run")
    assert finished.state == "finished"
    assert (finished.best_epoch, finished.best_val_auc) == (reference.best_epoch, reference.best_val_auc)
    ours = json.loads(finished.metrics_path.read_text())["history"]
    theirs = json.loads(reference.metrics_path.read_text())["history"]
    assert _strip(ours) == _strip(theirs)
    assert finished.predictions_path.read_bytes() == reference.predictions_path.read_bytes()


def test_out_of_memory_halves_the_micro_batch_and_keeps_the_effective_batch(runs, tmp_path, monkeypatch):
    import engine.train._trainer as trainer_module

    real = trainer_module.create_model
    seen = []

    def limited_model(*args, **kwargs):
        model = real(*args, **kwargs)
        forward = model.forward

        def forward_or_oom(x):
            seen.append(x.shape[0])
            if x.shape[0] > 4:
                raise torch.OutOfMemoryError("CUDA out of memory (injected by the test)")
            return forward(x)

        model.forward = forward_or_oom
        return model

    monkeypatch.setattr(trainer_module, "create_model", limited_model)
    spec, reference = runs["vit_tiny_patch16_224", 0]
    result = train_run(spec, tmp_path / "oom")
    assert result.state == "finished" and max(seen) == 16 and seen.count(4) > 0
    events = read_events(tmp_path / "oom" / "events.jsonl")
    logs = [e["message"] for e in events if e["type"] == "log"]
    assert "out of memory at micro-batch 8: continuing with micro-batch 4 x 2 accumulation steps " \
           "(effective batch 8 unchanged)" in logs
    assert any("out of memory in validation at batch 16" in m for m in logs)
    compute = json.loads(result.metrics_path.read_text())["compute"]
    assert (compute["effective_batch"], compute["micro_batch"], compute["optimizer_steps"]) == (8, 4, 6)
    # The ViT has no batch statistics, so accumulating two halves is the same step as one batch.
    ours = read_predictions(result.predictions_path)["probability"]
    theirs = read_predictions(reference.predictions_path)["probability"]
    assert np.allclose(ours, theirs, atol=1e-4)


def test_early_stopping_keeps_the_best_epoch(project, tmp_path, monkeypatch):
    import engine.train._trainer as trainer_module

    real = trainer_module.validation_metrics
    scripted = iter([0.6, 0.7, 0.65, 0.64, 0.9, 0.95])
    returned = []

    def scripted_metrics(logits, labels):
        metrics, probs = real(logits, labels)
        returned.append(probs)
        return {**metrics, "val_auc": next(scripted)}, probs

    monkeypatch.setattr(trainer_module, "validation_metrics", scripted_metrics)
    # Also the paths the other runs leave out: balanced sampling, no augmentation, bf16 autocast.
    spec = tiny_spec(project, "vit_tiny_patch16_224", 0, epochs=6, patience=2, balance="sampler",
                     augment=0.0, precision="bf16")
    result = train_run(spec, tmp_path / "run")
    assert (result.state, result.epochs_run, result.best_epoch) == ("finished", 4, 2)
    assert result.best_val_auc == 0.7
    m = json.loads(result.metrics_path.read_text())
    assert m["stopped_early"] and [h["val_auc"] for h in m["history"]] == [0.6, 0.7, 0.65, 0.64]
    assert m["compute"]["precision"] == "bf16" and m["compute"]["optimizer_steps"] == 12
    written = read_predictions(result.predictions_path)["probability"].astype(np.float32)
    assert np.array_equal(written, returned[1])  # the CSV round-trips float32 exactly
    events = read_events(tmp_path / "run" / "events.jsonl")
    assert any(e["type"] == "log" and e["message"].startswith("early stopping after epoch 4") for e in events)
    assert [e["epoch"] for e in events if e.get("name") == "best"] == [1, 2]


def test_a_spec_that_cannot_run_is_a_failed_event(project, tmp_path):
    with pytest.raises(SpecError, match="no split 'other'"):
        train_run(tiny_spec(project, split="other"), tmp_path / "a")
    with pytest.raises(SpecError, match="folds 0..1, not 2"):
        train_run(tiny_spec(project, fold=2), tmp_path / "b")
    event = read_events(tmp_path / "b" / "events.jsonl")[-1]
    assert event["type"] == "failed" and "folds 0..1, not 2" in event["error"]


def test_cli_train(project, tmp_path, capsys):
    from engine.cli import CliError
    from engine.cli import _train as cli_train

    parser = argparse.ArgumentParser()
    cli_train.add_parser(parser.add_subparsers())
    args = parser.parse_args([
        "train", str(project), "--split", "default", "--fold", "1", "--model", "resnet10t",
        "--no-pretrained", "--epochs", "1", "--batch-size", "8", "--image-size", "64", "--device", "cpu",
        "--seed", "3", "--augment", "0.2", "--lr", "0.002", "--num-threads", "2",
        "--run-dir", str(tmp_path / "cli")])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "epoch 1/1" in out.err and "best epoch 1" in out.out
    spec, _ = read_run_config(tmp_path / "cli")
    assert (spec.fold, spec.seed, spec.augment, spec.lr, spec.epochs, spec.pretrained) == \
        (1, 3, 0.2, 0.002, 1, False)
    bad = parser.parse_args(["train", str(project), "--split", "default", "--fold", "0",
                             "--model", "resnet5", "--run-dir", str(tmp_path / "bad")])
    with pytest.raises(CliError, match="did you mean resnet50"):
        bad.func(bad)
    missing = parser.parse_args(["train", str(tmp_path / "nowhere"), "--split", "default", "--fold", "0",
                                 "--model", "resnet10t", "--no-pretrained", "--run-dir", str(tmp_path / "x")])
    with pytest.raises(CliError, match="not an AFF Workbench project"):
        missing.func(missing)


def test_checkpoints_wait_for_their_interval_and_best_matches_last(project, tmp_path):
    """With a long interval only the end writes checkpoints; best.pt is the best epoch's model."""
    from engine.train import load_run_model

    every = train_run(tiny_spec(project, "resnet10t", 0, epochs=3), tmp_path / "every")
    spaced = train_run(tiny_spec(project, "resnet10t", 0, epochs=3, checkpoint_every_s=3600),
                       tmp_path / "spaced")
    saves = {name: [e["epoch"] for e in read_events(run / "events.jsonl")
                    if e["type"] == "artifact" and e["kind"] == "checkpoint" and e["name"] == "last"]
             for name, run in (("every", every.run_dir), ("spaced", spaced.run_dir))}
    assert saves == {"every": [1, 2, 3], "spaced": [3]}
    assert spaced.predictions_path.read_bytes() == every.predictions_path.read_bytes()
    best = load_checkpoint(spaced.run_dir / "checkpoints" / "best.pt")
    assert best["epoch"] == spaced.best_epoch == every.best_epoch
    a, _ = load_run_model(spaced.run_dir, "best")
    b, _ = load_run_model(every.run_dir, "best")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    last = load_checkpoint(spaced.run_dir / "checkpoints" / "last.pt")
    assert last["best"]["epoch"] == best["epoch"] and last["epoch"] == 3
    with pytest.raises(SpecError, match="checkpoint_every_s"):
        tiny_spec(project, checkpoint_every_s=-1)
