"""Issue 20 (CPU parts): overhead accounting, torch.compile, throughput batch + lr rule, seeds."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from engine.train import (
    PhaseClock,
    RunSpec,
    SpecError,
    choose_batch,
    read_predictions,
    scale_lr,
    throughput_spec,
    train_run,
)
from tests.engine._train_factory import make_project, tiny_spec


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("perf") / "P.affproj", patients=16, per_patient=2)


def test_phase_clock_charges_each_moment_to_the_innermost_phase():
    t = [0.0]
    clock = PhaseClock(now=lambda: t[0])
    t[0] = 1.0  # 1 s before any phase: other
    with clock.phase("checkpoints"):
        t[0] = 3.0
        with clock.phase("events"):  # nested: its 0.5 s are not checkpoint time too
            t[0] = 3.5
        t[0] = 4.0
    with clock.phase("steps"):
        t[0] = 10.0
    s = clock.summary()
    assert s["wall_s"] == 10.0
    assert s["parts_s"]["checkpoints"] == 2.5 and s["parts_s"]["events"] == 0.5
    assert s["parts_s"]["steps"] == 6.0 and s["parts_s"]["other"] == 1.0
    assert sum(s["parts_s"].values()) == pytest.approx(s["wall_s"])
    assert s["overhead_share"] == pytest.approx(1 - 6.0 / 10.0)
    with pytest.raises(ValueError, match="unknown phase"):
        with clock.phase("lunch"):
            pass


def test_overhead_parts_add_up_to_the_fold_wall_time(project, tmp_path):
    spec = tiny_spec(project, epochs=2)
    t0 = time.perf_counter()
    result = train_run(spec, tmp_path / "run")
    outside = time.perf_counter() - t0
    metrics = json.loads(result.metrics_path.read_text())
    ov = metrics["overhead"]
    parts, wall = ov["parts_s"], ov["wall_s"]
    assert sum(parts.values()) == pytest.approx(wall, abs=1e-4)
    # measured from inside train_run: a little shorter than the caller's clock (metrics.json and
    # the finished event come after it), never longer
    assert 0.7 * outside <= wall <= outside
    # every kind of work was seen, and almost nothing fell outside a phase
    for name in ("setup", "data", "warmup", "steps", "validation", "checkpoints", "events", "outputs"):
        assert parts[name] > 0, name
    assert 0 <= parts["other"] < 0.05 * wall
    assert ov["overhead_share"] == pytest.approx(1 - parts["steps"] / wall, abs=1e-4)
    # the step time the share counts is the training time the epochs report, less the warm-up step
    # and the progress events (each epoch's train_seconds includes both)
    train = sum(h["train_seconds"] for h in metrics["history"])
    assert parts["steps"] <= train + 1e-3
    finished = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()][-1]
    assert finished["type"] == "finished"
    assert finished["overhead_share"] == pytest.approx(ov["overhead_share"])


def _run(spec, run_dir):
    result = train_run(spec, run_dir)
    metrics = json.loads(result.metrics_path.read_text())
    return metrics, read_predictions(result.predictions_path)


def test_compile_trains_on_cpu_like_eager_and_is_recorded(project, tmp_path):
    # aot_eager traces forward and backward through torch.compile like inductor does, without
    # inductor's C++ build (about 2 minutes per model on the 2-core machine); the GPU script
    # measures inductor.
    eager_m, eager_p = _run(tiny_spec(project, epochs=1, augment=0.0), tmp_path / "eager")
    spec = tiny_spec(project, epochs=1, augment=0.0, compile=True, compile_backend="aot_eager")
    comp_m, comp_p = _run(spec, tmp_path / "compiled")
    np.testing.assert_allclose(comp_p["probability"], eager_p["probability"], rtol=1e-3, atol=1e-4)
    assert comp_m["history"][0]["train_loss"] == pytest.approx(eager_m["history"][0]["train_loss"], rel=1e-4)
    config = json.loads((tmp_path / "compiled" / "config.json").read_text())
    assert config["spec"]["compile"] is True and config["spec"]["compile_backend"] == "aot_eager"
    assert config["resolved"]["compile"] is True and config["resolved"]["compile_backend"] == "aot_eager"
    assert config["resolved"]["cuda_graphs"] is False  # CPU: CUDA graphs never on
    assert config["resolved"]["fused_optimizer"] is False
    assert comp_m["compute"]["compiled"] is True
    eager_cfg = json.loads((tmp_path / "eager" / "config.json").read_text())
    assert eager_cfg["resolved"]["compile"] is False and eager_cfg["resolved"]["compile_backend"] is None
    # the compile warm-up is part of the fold's time, and is overhead
    assert comp_m["overhead"]["parts_s"]["warmup"] > 0


def test_cuda_graphs_are_off_on_the_cpu_and_need_compile():
    from engine.train import resolve

    spec = RunSpec(project="x", split="s", fold=0, model="resnet10t", device="cpu", compile=True,
                   cuda_graphs=True)
    assert resolve(spec).cuda_graphs is False
    with pytest.raises(SpecError, match="compile_backend"):
        RunSpec(project="x", split="s", fold=0, model="resnet10t", compile_backend="tvm")


def test_lr_scaling_rules():
    assert scale_lr(3e-4, 32, 256, "linear") == pytest.approx(3e-4 * 8)
    assert scale_lr(3e-4, 32, 256, "sqrt") == pytest.approx(3e-4 * math.sqrt(8))
    assert scale_lr(1e-3, 64, 64, "sqrt") == pytest.approx(1e-3)
    with pytest.raises(SpecError, match="not one of linear, sqrt"):
        scale_lr(1e-3, 32, 64, "cubic")


def test_choose_batch_table_cap_and_memory_probe():
    # GPU: the table's batch at 224 px, scaled with the pixel count at other sizes
    assert choose_batch("resnet50", 224, "cuda:0")[0] == 256
    assert choose_batch("resnet50", 448, "cuda:0")[0] == 64
    assert choose_batch("resnet10t", 128, "cuda:0")[0] == 1024
    # the data keeps >= 8 steps per epoch
    assert choose_batch("resnet50", 224, "cuda:0", n_train=1000)[0] == 64
    # a fake memory bound: halves until it fits
    tried = []

    def fits(b):
        tried.append(b)
        return b <= 100

    batch, why = choose_batch("vit_base_patch16_224", 224, "cuda:0", fits=fits)
    assert batch == 64 and tried == [256, 128, 64] and "memory" in why
    # CPU: no larger than the default
    assert choose_batch("resnet50", 224, "cpu")[0] == 32


def test_throughput_spec_records_the_batch_and_rule(project):
    spec = tiny_spec(project, batch_size=8, lr=1e-3)
    fast = throughput_spec(spec, "sqrt", n_train=400, fits=lambda b: b <= 16)
    assert fast.batch_size == 16
    assert fast.lr == pytest.approx(1e-3 * math.sqrt(2))
    assert fast.lr_scaling.startswith("sqrt: lr 0.001 at batch 8")
    assert RunSpec.from_json(fast.to_json()) == fast


def test_the_same_seed_gives_identical_results_twice(project, tmp_path):
    spec = throughput_spec(tiny_spec(project, epochs=2, seed=3), "linear", n_train=24)
    assert spec.batch_size == 2 and spec.lr == pytest.approx(1e-3 * 2 / 8)
    a_m, a_p = _run(spec, tmp_path / "a")
    b_m, b_p = _run(spec, tmp_path / "b")
    np.testing.assert_array_equal(a_p["probability"], b_p["probability"])
    for x, y in zip(a_m["history"], b_m["history"]):
        keys = ("train_loss", "val_loss", "val_auc")
        assert [x[k] for k in keys] == [y[k] for k in keys]


def test_cli_batch_size_auto_and_compile_options(project, capsys):
    from engine.cli import build_parser, main
    from engine.cli._train import spec_from_args

    argv = ["train", str(project), "--split", "default", "--fold", "0", "--model", "resnet10t",
            "--run-dir", "unused", "--no-pretrained", "--device", "cpu", "--image-size", "64",
            "--batch-size", "auto", "--lr-scaling", "sqrt", "--compile", "--compile-backend", "aot_eager",
            "--cuda-graphs"]
    spec = spec_from_args(build_parser().parse_args(argv), 0)
    # 16 training images on the CPU: capped to keep 8 steps per epoch -> batch 2
    assert spec.batch_size == 2 and spec.lr == pytest.approx(3e-4 * math.sqrt(2 / 32))
    assert spec.lr_scaling.startswith("sqrt: lr 0.0003 at batch 32 -> ")
    assert spec.compile and spec.compile_backend == "aot_eager" and spec.cuda_graphs
    with pytest.raises(SystemExit) as exit_:
        main([*argv[:-8], "--batch-size", "zero"])
    assert exit_.value.code == 2
    assert "'zero': a whole number or 'auto'" in capsys.readouterr().err
