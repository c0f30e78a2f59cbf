"""Attention rollout math on hand-made matrices, and on a real ViT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.explain import AttentionRecorder, attention_rollout, fuse_heads, rollout_map, rollout_matrix
from tests.engine._explain_factory import input_size_for, phantom_batch, random_model


def _row_stochastic(rng, b, h, n):
    a = rng.random((b, h, n, n))
    return torch.from_numpy(a / a.sum(-1, keepdims=True))


def test_identity_in_identity_out():
    eye = torch.eye(5).expand(2, 3, 5, 5)
    joint = rollout_matrix([eye, eye, eye])
    np.testing.assert_allclose(joint.numpy(), np.broadcast_to(np.eye(5), (2, 5, 5)), atol=1e-12)


def test_rows_sum_to_one():
    rng = np.random.default_rng(0)
    layers = [_row_stochastic(rng, 2, 4, 6) for _ in range(4)]
    for fusion in ("mean", "max", "min"):
        for discard in (0.0, 0.5):
            joint = rollout_matrix(layers, fusion, discard)
            np.testing.assert_allclose(joint.sum(-1).numpy(), 1.0, atol=1e-12)


def test_known_two_layer_example():
    a1 = torch.tensor([[0.5, 0.5], [0.0, 1.0]])[None, None]
    a2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]])[None, None]
    # 0.5 A + 0.5 I (rows already sum to one): r1 = [[.75, .25], [0, 1]], r2 = [[.5, .5], [.5, .5]].
    expected = np.array([[0.5, 0.5], [0.5, 0.5]]) @ np.array([[0.75, 0.25], [0.0, 1.0]])
    joint = rollout_matrix([a1, a2])
    np.testing.assert_allclose(joint[0].numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(expected, [[0.375, 0.625], [0.375, 0.625]])


def test_head_fusion_and_row_renormalisation():
    heads = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])[None]
    np.testing.assert_allclose(fuse_heads(heads, "mean")[0].numpy(), [[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(fuse_heads(heads, "max")[0].numpy(), [[1, 1], [1, 1]])
    # max fusion rows sum to 2: (A + I) / 2 renormalised -> [[2/3, 1/3], [1/3, 2/3]]
    joint = rollout_matrix([heads], "max")
    np.testing.assert_allclose(joint[0].numpy(), [[2 / 3, 1 / 3], [1 / 3, 2 / 3]], atol=1e-12)
    with pytest.raises(ValueError):
        fuse_heads(heads, "median")


def test_discard_ratio_drops_weak_links_but_keeps_class_column():
    a = torch.tensor([[0.1, 0.6, 0.3], [0.05, 0.9, 0.05], [0.02, 0.08, 0.9]])[None]
    # 9 entries, discard 1/3 -> the 3 weakest (0.02, 0.05, 0.05); the two in column 0 stay.
    joint = rollout_matrix([a], discard_ratio=1 / 3)[0].numpy()
    kept = a[0].numpy().copy()
    kept[1, 2] = 0.0
    expected = 0.5 * kept + 0.5 * np.eye(3)
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(joint, expected, atol=1e-12)


def test_class_row_over_patch_grid():
    n = 1 + 4
    a = torch.zeros(1, 1, n, n)
    a[0, 0, :, 3] = 1.0  # every token looks at patch 2 (row 1, col 0 of a 2x2 grid)
    m = rollout_map([a], (2, 2))
    assert m.shape == (1, 2, 2)
    assert m[0, 1, 0] == pytest.approx(0.5) and m[0].sum() == pytest.approx(0.5)


def test_recorder_turns_fused_attention_off_and_restores_it():
    name = "vit_tiny_patch16_224"
    model = random_model(name)
    before = [b.attn.fused_attn for b in model.blocks]
    x = phantom_batch(input_size_for(name), 2)
    with AttentionRecorder(model) as rec:
        assert not any(b.attn.fused_attn for b in model.blocks)
        model(x)
    assert [b.attn.fused_attn for b in model.blocks] == before
    assert len(rec.attentions) == len(model.blocks)
    n = 1 + 16
    assert rec.attentions[0].shape == (2, model.blocks[0].attn.num_heads, n, n)
    np.testing.assert_allclose(rec.attentions[0].sum(-1).numpy(), 1.0, atol=1e-5)
    maps, prob = attention_rollout(model, x)
    assert maps.shape == (2, 4, 4) and prob.shape == (2,)
    assert (maps.reshape(2, -1).std(1) > 0.05).all()


def test_rollout_refuses_models_without_class_token():
    with pytest.raises(ValueError, match="class token"):
        AttentionRecorder(random_model("resnet10t"))
