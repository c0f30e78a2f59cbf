"""A run with a family recipe (drop path, layer-wise lr decay) trains, and config.json records it."""

import json

from engine.train import apply_recipe, train_run
from tests.engine._train_factory import make_project, tiny_spec


def test_vit_recipe_with_drop_path_and_layer_decay_trains(tmp_path):
    project = make_project(tmp_path / "P", patients=12, per_patient=2, k=2)
    spec = apply_recipe(tiny_spec(project, "vit_tiny_patch16_224", image_size=32, epochs=2))
    spec = spec.replace(layer_decay=0.75)  # as when fine-tuning, on a model trained from scratch
    assert (spec.recipe, spec.drop_path) == ("vit-scratch", 0.1)
    result = train_run(spec, tmp_path / "run")
    assert result.state == "finished" and result.epochs_run == 2
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["spec"]["recipe"] == "vit-scratch" and config["spec"]["layer_decay"] == 0.75
    assert config["orientation"] == {"mode": "canonical", "images": 24, "mirrored": 0, "from_laterality": 0,
                                     "from_marker": 0, "unknown": 24}  # no laterality, no lead marker
