"""``affengine weights``: the folder, import with a key/shape check, fetch offline; refusals say where."""

import pytest
import torch

from engine.cli import main
from engine.models import WeightsNotFoundError, create_model, file_sha256, find_weights


@pytest.fixture
def folder(tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    path = tmp_path / "weights"
    monkeypatch.setenv("AFFWB_WEIGHTS_DIR", str(path))
    return path


def _imagenet_state(model: str) -> dict:
    import timm

    torch.manual_seed(0)
    return timm.create_model(model, pretrained=False).state_dict()  # the ImageNet architecture


def test_status_names_the_folder_and_each_model(folder, capsys):
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"weights folder: {folder} (does not exist yet)"
    assert any(line.split()[:2] == ["resnet10t", "missing"] for line in out.splitlines())
    assert "affengine weights import FILE --model M" in out


@pytest.mark.parametrize("fmt", ["safetensors", "pt"])
def test_import_checks_and_stores_the_file_and_training_finds_it(folder, tmp_path, capsys, fmt):
    from safetensors.torch import save_file

    state = _imagenet_state("resnet10t")
    src = tmp_path / f"downloaded.{fmt}"
    if fmt == "safetensors":
        save_file(state, str(src))
    else:
        torch.save({"state_dict": state}, src)
    assert main(["weights", "import", str(src), "--model", "resnet10t"]) == 0
    stored = folder / "resnet10t.safetensors"
    out = capsys.readouterr().out
    assert f"stored {len(state)} tensors as {stored} (sha256 {file_sha256(stored)})" in out
    assert find_weights("resnet10t").path == stored
    model = create_model("resnet10t", pretrained=True)
    assert torch.allclose(model.state_dict()["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"])
    assert main(["weights"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("resnet10t "))
    assert line.split()[1:] == ["file", str(stored)]


def test_import_refuses_weights_of_another_model(folder, tmp_path, capsys):
    from safetensors.torch import save_file

    src = tmp_path / "vit.safetensors"
    save_file(_imagenet_state("vit_tiny_patch16_224"), str(src))
    assert main(["weights", "import", str(src), "--model", "resnet10t"]) == 2
    err = capsys.readouterr().err
    assert "does not hold resnet10t weights" in err and "key(s) of resnet10t missing (bn1.bias" in err
    assert "unexpected key(s) (blocks.0" in err
    assert not folder.exists() or not list(folder.iterdir())  # nothing stored
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a file")
    assert main(["weights", "import", str(bad), "--model", "resnet10t"]) == 2
    assert "not a readable weights file" in capsys.readouterr().err
    assert main(["weights", "import", str(tmp_path / "nope.pt"), "--model", "resnet10t"]) == 2
    assert "no such weights file" in capsys.readouterr().err


def test_fetch_offline_and_missing_weights_name_the_folder_and_commands(folder, capsys):
    assert main(["weights", "fetch", "resnet10t"]) == 2  # the tests run with AFFWB_OFFLINE=1
    err = capsys.readouterr().err
    assert "offline" in err and str(folder) in err
    assert "affengine weights import FILE --model resnet10t" in err
    with pytest.raises(WeightsNotFoundError) as exc:
        create_model("resnet10t", pretrained=True)
    msg = str(exc.value)
    assert str(folder / "resnet10t.safetensors") in msg
    assert "affengine weights import FILE --model MODEL" in msg and "affengine weights fetch MODEL" in msg
