"""Heatmaps of a final model on an evaluation set: another project's images, or the held-out test.

Each member explains every labelled image of the set (another site's pixels made in memory, as
for the evaluation); the ensemble's map is the mean of its members' maps, its probability their
mean. Maps go to ``PROJECT/evaluations/explain-<stamp>-<external|test>/<experiment>/heatmaps/
<method>.npz`` in the development project, in the format ``engine.explain.read_heatmaps`` reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.final._screen_explain import final_model_maps
from engine.final._store import latest_final_model
from engine.final._targets import TEST, check_never_seen, external_target, resolve_target, test_target

if TYPE_CHECKING:
    from engine.store import Project


def explain_external(project: Project, experiment: str, on: str, method: str = "gradcam",
                     device: str = "cpu", batch_size: int = 16,
                     progress: Callable[[str], None] | None = None) -> Path:
    """Explain the other project's AFF/NFF images with ``experiment``'s final model; returns the .npz."""
    from engine.explain import write_heatmaps
    from engine.final._members import FinalModelError
    from engine.final._model import letterboxed
    from engine.store import Project, utc_now

    where = resolve_target(on)
    final = latest_final_model(project, experiment)
    t0 = time.perf_counter()
    if where == TEST:
        from engine.train import prepare_images

        target = test_target(project, final)
        check_never_seen(project, final, target)
        pixels = prepare_images(project, target.image_ids, final.image_size, "cpu")
    else:
        with Project.open(where) as other:
            if other.path == project.path:
                raise FinalModelError(f"--on {on} is the development project itself; use --on test")
            target = external_target(other)
            check_never_seen(project, final, target, other)
            pixels = letterboxed(other, target.image_ids, final.image_size)
    maps, probs = final_model_maps(project, final, pixels, method, device, batch_size, progress=progress)
    folder = (project.path / "evaluations" / f"explain-{time.strftime('%Y%m%d-%H%M%S')}-{target.kind}"
              / experiment)
    meta = {"experiment": experiment, "final_model_id": final.id, "method": method,
            "model": final.provenance["model"], "members": len(final.members), "source": str(where),
            "target": target.label, "grid": list(maps.shape[1:]), "input_size": final.image_size,
            "map": "mean of the members' maps", "written_at": utc_now(),
            "seconds": round(time.perf_counter() - t0, 3)}
    return write_heatmaps(folder, method, target.image_ids, maps, probs, target.labels, meta)
