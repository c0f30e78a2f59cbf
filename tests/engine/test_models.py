import pickle

import pytest
import torch

from engine.models import (
    UnknownModelError,
    WeightsNotFoundError,
    create_model,
    find_weights,
    get_entry,
    list_models,
    resolve_layer,
)

REQUIRED = {
    "resnet50", "densenet121", "efficientnet_b0", "convnext_tiny", "inception_v3",
    "vit_small_patch16_224", "vit_base_patch16_224", "deit_small_patch16_224",
    "swin_tiny_patch4_window7_224",
}


def test_registry_has_the_study_models_and_tiny_ones():
    assert REQUIRED <= set(list_models())
    assert {"resnet10t", "vit_tiny_patch16_224"} <= set(list_models(tiny=True))
    assert "vit_base_patch16_224" in list_models("vit")
    assert "resnet50" not in list_models("vit")
    assert list_models("hybrid")
    with pytest.raises(ValueError, match="unknown family"):
        list_models("rnn")


def test_unknown_model_suggests_names():
    with pytest.raises(UnknownModelError, match="did you mean resnet50"):
        get_entry("resnet5")
    with pytest.raises(UnknownModelError):
        create_model("not_a_model")


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_one_channel_two_classes_and_has_its_target_layer(name):
    entry = get_entry(name)
    model = create_model(name).eval()
    size = entry.input_size
    with torch.no_grad():
        out = model(torch.zeros(1, 1, size, size))
    assert out.shape == (1, 2)
    layer = resolve_layer(model, entry.target_layer)
    seen = {}

    def hook(module, inputs, output):
        seen["shape"] = output.shape

    handle = layer.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    handle.remove()
    shape = seen["shape"]
    if entry.reshape == "none":
        assert len(shape) == 4 and shape[-1] > 1  # a spatial conv map
    elif entry.reshape == "vit":
        grid = model.patch_embed.grid_size
        assert shape[1] == model.num_prefix_tokens + grid[0] * grid[1]
    else:  # swin: channels last
        assert len(shape) == 4 and shape[1] == shape[2]


def _save_reference(tmp_path, fmt):
    ref = create_model("resnet10t", in_chans=3, num_classes=1000)
    state = ref.state_dict()
    if fmt == "safetensors":
        from safetensors.torch import save_file

        path = tmp_path / "resnet10t.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        path = tmp_path / "resnet10t.pth"
        torch.save({"state_dict": state}, path)
    return state, path


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_weights_file_is_loaded_and_adapted_to_one_channel(tmp_path, fmt):
    state, path = _save_reference(tmp_path, fmt)
    model = create_model("resnet10t", pretrained=True, weights_file=path)
    got = model.state_dict()
    # Inner layers arrive unchanged.
    assert torch.equal(got["layer3.0.conv1.weight"], state["layer3.0.conv1.weight"])
    # The first conv sums the RGB filters, as timm adapts in_chans=1.
    first = "conv1.0.weight"
    assert got[first].shape[1] == 1
    assert torch.allclose(got[first][:, 0], state[first].sum(dim=1), atol=1e-6)
    # The classifier is new: two classes.
    assert got["fc.weight"].shape == (2, state["fc.weight"].shape[1])


def test_weights_folder_and_hf_cache_are_found(tmp_path, monkeypatch):
    _, path = _save_reference(tmp_path, "safetensors")
    monkeypatch.setenv("AFFWB_WEIGHTS_DIR", str(tmp_path))
    assert find_weights("resnet10t").path == path
    monkeypatch.delenv("AFFWB_WEIGHTS_DIR")

    import huggingface_hub.constants as hf_constants

    hub_id = find_weights("resnet10t").hf_hub_id
    repo = tmp_path / "hub" / ("models--" + hub_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model.safetensors").write_bytes(path.read_bytes())
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    src = find_weights("resnet10t")
    assert (src.kind, src.path) == ("hf-cache", snap / "model.safetensors")
    model = create_model("resnet10t", pretrained=True)
    assert model.state_dict()["fc.weight"].shape[0] == 2


def test_missing_weights_say_what_to_do(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.delenv("AFFWB_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsNotFoundError) as err:
        create_model("resnet50", pretrained=True)
    msg = str(err.value)
    assert "timm/resnet50" in msg and "--no-pretrained" in msg and "model.safetensors" in msg
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        create_model("resnet50", pretrained=True, weights_file=tmp_path / "nope.safetensors")


class _Evil:
    def __reduce__(self):
        return (exec, ("raise SystemExit('code ran')",))


def test_weights_loading_never_executes_code(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": _Evil()}, fh)
    with pytest.raises(ValueError, match="not a plain weights file"):
        create_model("resnet10t", pretrained=True, weights_file=path)


def test_offline_switch_skips_the_hub(monkeypatch):
    from engine.models import hub_reachable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_reachable() is False
