"""engine.train pieces without a training run: spec, sized cache, augmentation, balance, schedule."""

import json
import math

import numpy as np
import pytest
import torch

from engine.store import Project
from engine.train import (
    RunSpec,
    SizedCache,
    SpecError,
    WarmupCosine,
    augment,
    class_weights,
    epoch_order,
    letterbox,
    normalise,
    prepare_images,
    resolve,
)
from tests.engine._train_factory import make_project

BASE = dict(project="/p.affproj", split="default", fold=0, model="resnet10t")


# -- RunSpec ---------------------------------------------------------------------------------
def test_spec_round_trips_through_json_text():
    spec = RunSpec(**BASE, image_size=96, lr=1, channels_last=True, num_threads=2)
    assert spec.lr == 1.0 and isinstance(spec.lr, float)
    text = json.dumps(spec.to_json())
    assert RunSpec.from_json(text) == spec
    assert RunSpec.from_json(json.loads(text)) == spec
    assert spec.for_fold(3) == spec.replace(fold=3) and spec.for_fold(3).fold == 3
    assert [s.fold for s in map(spec.for_fold, range(5))] == [0, 1, 2, 3, 4]
    assert spec.run_name() == "resnet10t-default_vlatest-r0f0s0"
    assert spec.for_fold(2, repeat=1, seed=3).run_name() == "resnet10t-default_vlatest-r1f2s3"


def test_spec_defaults_are_the_study_defaults():
    spec = RunSpec(**BASE)
    assert (spec.optimizer, spec.schedule, spec.balance, spec.precision, spec.device) == \
        ("adamw", "cosine", "class_weights", "auto", "auto")
    assert spec.pretrained and spec.image_size is None and spec.patience == 0 and not spec.compile


@pytest.mark.parametrize("change, message", [
    ({"model": "resnet5"}, "did you mean resnet50"),
    ({"fold": -1}, "fold must be an integer >= 0"),
    ({"fold": 1.0}, "fold must be an integer"),
    ({"epochs": 0}, "epochs must be an integer from 1"),
    ({"augment": 1.5}, "augment (strength) must be a number from 0 to 1"),
    ({"balance": "oversample"}, "balance 'oversample' is not one of class_weights, sampler, none"),
    ({"precision": "fp8"}, "precision 'fp8' is not one of"),
    ({"device": "gpu0"}, "device must be auto, cpu, cuda or cuda:N"),
    ({"lr": float("nan")}, "lr must be a number"),
    ({"warmup_epochs": 5, "epochs": 2}, "warmup_epochs (5) is longer than the run (2 epochs)"),
    ({"pretrained": False, "weights_file": "/w.pth"}, "weights_file is only used with pretrained=true"),
    ({"model": "vit_tiny_patch16_224", "image_size": 100}, "not a multiple of vit_tiny_patch16_224's patch"),
])
def test_spec_validation_names_the_problem(change, message):
    with pytest.raises(SpecError, match="invalid run spec") as info:
        RunSpec(**{**BASE, **change})
    assert message in str(info.value)


def test_spec_validation_lists_every_problem_and_json_errors():
    with pytest.raises(SpecError) as info:
        RunSpec(**{**BASE, "fold": -2, "batch_size": 0, "patience": -1})
    assert str(info.value).count(";") == 2
    with pytest.raises(SpecError, match="unknown run spec field.*learning_rate"):
        RunSpec.from_json({**BASE, "learning_rate": 0.1})
    with pytest.raises(SpecError, match="lacks required field.*model"):
        RunSpec.from_json({k: v for k, v in BASE.items() if k != "model"})


def test_resolve_auto_choices_on_cpu():
    r = resolve(RunSpec(**BASE, device="cpu", num_threads=1))
    assert (r.device, r.precision, r.channels_last, r.fused_optimizer, r.image_size, r.family) == \
        ("cpu", "fp32", False, False, 64, "cnn")
    assert resolve(RunSpec(**BASE, device="cpu", precision="bf16")).amp_dtype == torch.bfloat16
    assert resolve(RunSpec(**BASE, device="cpu", image_size=96)).image_size == 96
    with pytest.raises(SpecError, match="fp16 needs a CUDA GPU"):
        resolve(RunSpec(**BASE, device="cpu", precision="fp16"))
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="no CUDA GPU"):
            resolve(RunSpec(**BASE, device="cuda:0"))


# -- letterbox and the sized cache -------------------------------------------------------------
def test_letterbox_centres_the_scaled_image_on_zeros():
    img = np.full((96, 72), 200, np.uint8)
    sq = letterbox(img, 64)
    assert sq.shape == (64, 64) and sq.dtype == np.uint8
    cols = np.flatnonzero(sq.any(axis=0))
    assert (cols[0], cols[-1]) == (8, 55)  # 72 * 64 / 96 = 48 columns, 8 zero columns each side
    assert sq[:, 8:56].min() == 200 and sq[:, :8].max() == 0 and sq[:, 56:].max() == 0
    wide = letterbox(np.full((30, 120), 9, np.uint8), 64)
    assert np.flatnonzero(wide.any(axis=1)).tolist() == list(range(24, 40))  # 16 rows of 64


def test_sized_cache_fills_once_and_refills_a_stale_slot(tmp_path):
    path = make_project(tmp_path / "P", patients=4, per_patient=2)
    with Project.open(path) as project:
        rows = project.images.list(order="id")
        ids = np.array([r.id for r in rows])
        shas = [r.sha256 for r in rows]
        cache = SizedCache(project.cache_dir, 32)
        assert cache.missing(ids, shas).all()
        assert cache.ensure(ids, shas, project.cache.load_full) == 8
        assert cache.ensure(ids, shas, project.cache.load_full) == 0
        assert cache.data_path.name == "sized_32.u8"
        assert cache.data_path.stat().st_size == (ids.max() + 1) * 32 * 32
        expected = np.stack([letterbox(project.cache.load_full(s), 32) for s in shas])
        assert np.array_equal(cache.read(ids), expected)
        # An image id whose content changed (another hash) is made again.
        other = shas[:2] + [shas[3], shas[2]] + shas[4:]
        assert cache.missing(ids, other).tolist() == [False, False, True, True] + [False] * 4
        assert cache.ensure(ids, other, project.cache.load_full) == 2
        assert np.array_equal(cache.read(ids[2:4]), expected[[3, 2]])
        # prepare_images goes through the same cache, in the order asked.
        order = ids[::-1]
        t = prepare_images(project, order, 32, "cpu")
        assert t.shape == (8, 1, 32, 32) and t.dtype == torch.uint8
        assert np.array_equal(t[:, 0].numpy(), cache.read(order))
        with pytest.raises(ValueError, match="not in"):
            prepare_images(project, [9999], 32, "cpu")


# -- augmentation ----------------------------------------------------------------------------
def _batch(seed=0, b=6, s=48):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 1, s, s), generator=g, dtype=torch.uint8)


def test_augment_is_reproducible_from_the_generator_state():
    x = _batch()
    g = torch.Generator().manual_seed(7)
    state = g.get_state()
    a = augment(x, g, 0.8, 0.449, 0.226)
    b = augment(x, g, 0.8, 0.449, 0.226)  # the generator moved on
    g.set_state(state)
    again = augment(x, g, 0.8, 0.449, 0.226)
    assert torch.equal(a, again) and not torch.equal(a, b)
    assert not torch.equal(a, augment(x, torch.Generator().manual_seed(8), 0.8, 0.449, 0.226))


@pytest.mark.parametrize("strength", [0.2, 0.5, 1.0])
def test_augment_keeps_shape_dtype_and_range(strength):
    x = _batch()
    out = augment(x, torch.Generator().manual_seed(1), strength, 0.5, 0.25)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= (0 - 0.5) / 0.25 - 1e-6 and out.max() <= (1 - 0.5) / 0.25 + 1e-6
    changed = (out - normalise(x, 0.5, 0.25)).abs().mean().item()
    assert changed > 0.05


def test_augment_strength_zero_is_the_identity_and_draws_nothing():
    x = _batch()
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    out = augment(x, g, 0.0, 0.449, 0.226)
    assert torch.equal(out, normalise(x, 0.449, 0.226))
    assert torch.equal(g.get_state(), state)
    assert torch.allclose(out, (x.float() / 255 - 0.449) / 0.226, atol=1e-5)


def test_augment_effect_grows_with_strength():
    x = torch.full((64, 1, 32, 32), 128, dtype=torch.uint8)
    spread = [augment(x, torch.Generator().manual_seed(0), s, 0.5, 0.25).std().item()
              for s in (0.1, 0.4, 1.0)]
    assert spread[0] < spread[1] < spread[2]


# -- class balance and schedule -----------------------------------------------------------------
def test_class_weights_make_each_class_half_of_the_loss():
    labels = np.array([0] * 30 + [1] * 10)
    w = class_weights(labels)
    assert np.allclose(w, [40 / 60, 40 / 20])
    assert np.isclose(w[0] * 30, w[1] * 10) and np.isclose(w[0] * 30 + w[1] * 10, 40)
    assert np.allclose(class_weights([0, 0, 0]), [0.5, 0.0])


def test_epoch_order_shuffles_or_balances():
    labels = torch.tensor([0] * 90 + [1] * 10)
    perm = epoch_order(labels, "class_weights", torch.Generator().manual_seed(0))
    assert sorted(perm.tolist()) == list(range(100))
    assert torch.equal(perm, epoch_order(labels, "none", torch.Generator().manual_seed(0)))
    g = torch.Generator().manual_seed(0)
    drawn = torch.cat([epoch_order(labels, "sampler", g) for _ in range(40)])
    assert len(drawn) == 4000 and abs(labels[drawn].float().mean().item() - 0.5) < 0.04


def test_warmup_cosine_schedule_numbers():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosine(opt, 1e-3, total_steps=110, warmup_steps=10)
    lrs = [sched.lr_at(i) for i in range(110)]
    assert np.allclose(lrs[:10], np.arange(1, 11) * 1e-4)
    assert math.isclose(lrs[10], 1e-3)
    assert math.isclose(lrs[60], 1e-5 + (1e-3 - 1e-5) * 0.5)  # half way through the cosine
    assert 1e-5 < lrs[-1] < 1.1e-5 and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert sched.apply() == lrs[0] and opt.param_groups[0]["lr"] == lrs[0]
    sched.advance()
    restored = WarmupCosine(opt, 1e-3, 110, 10)
    restored.load_state_dict(sched.state_dict())
    assert restored.apply() == lrs[1]
    assert WarmupCosine(opt, 1e-3, 110, 0, "constant").lr_at(100) == 1e-3


def test_best_epoch_is_higher_auc_then_lower_loss():
    from engine.train._evaluate import balanced_accuracy, better

    assert better({"val_auc": 0.7, "val_loss": 0.9}, None)
    assert better({"val_auc": 0.8, "val_loss": 0.9}, {"val_auc": 0.7, "val_loss": 0.1})
    assert better({"val_auc": 0.8, "val_loss": 0.4}, {"val_auc": 0.8, "val_loss": 0.5})
    assert not better({"val_auc": 0.8, "val_loss": 0.5}, {"val_auc": 0.8, "val_loss": 0.5})
    assert not better({"val_auc": None, "val_loss": 0.1}, {"val_auc": 0.5, "val_loss": 0.9})
    # 3 of 4 NFF and 1 of 2 AFF right at 0.5: (0.75 + 0.5) / 2
    assert balanced_accuracy([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.5, 0.4]) == 0.625
    assert balanced_accuracy([1, 1], [0.9, 0.2]) == 0.5


def test_family_recipes_and_layer_decay():
    import torch

    from engine.models import create_model
    from engine.train import apply_recipe
    from engine.train._optim import WarmupCosine, build_optimizer
    from tests.engine._train_factory import tiny_spec

    cnn = apply_recipe(tiny_spec("/p", "resnet10t", epochs=20, batch_size=64, pretrained=True))
    assert (cnn.recipe, cnn.lr, cnn.weight_decay, cnn.warmup_epochs, cnn.drop_path, cnn.layer_decay) == (
        "cnn-finetune", pytest.approx(6e-4), 0.02, 2.0, 0.05, None)  # lr x 64/32; warm-up 10% of 20
    vit = apply_recipe(tiny_spec("/p", "vit_tiny_patch16_224", epochs=100, batch_size=32, pretrained=True))
    assert (vit.recipe, vit.lr, vit.warmup_epochs, vit.layer_decay, vit.drop_path) == (
        "vit-finetune", pytest.approx(4e-3 * 32 / 1024), 5.0, 0.75, 0.1)
    deit = apply_recipe(tiny_spec("/p", "vit_tiny_patch16_224", epochs=100, batch_size=512))
    assert (deit.recipe, deit.lr, deit.augment) == ("vit-scratch", pytest.approx(5e-4), 0.8)  # DeiT at 512
    assert apply_recipe(cnn, "none") is cnn
    with pytest.raises(ValueError, match="layer_decay"):
        cnn.replace(layer_decay=1.5)

    model = create_model("vit_tiny_patch16_224", img_size=64, in_chans=1)
    opt = build_optimizer(model, 1e-3, 0.05, layer_decay=0.5)
    scales = sorted({g["lr_scale"] for g in opt.param_groups})
    assert scales[-1] == 1.0 and scales[0] == pytest.approx(0.5 ** (len(model.blocks) + 1))
    sched = WarmupCosine(opt, 1e-3, total_steps=10, warmup_steps=0, schedule="constant")
    sched.apply()
    assert sorted({g["lr"] for g in opt.param_groups}) == pytest.approx([1e-3 * s for s in scales])
    assert isinstance(opt, torch.optim.AdamW)
