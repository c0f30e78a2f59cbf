import shutil

import numpy as np

from engine.cli import main
from engine.io import import_sources
from engine.phantom import PhantomConfig, generate
from engine.store import Project


def test_cache_rebuild_restores_identical_pixels_and_reports_changed_sources(tmp_path, capsys):
    study = generate(tmp_path / "src", PhantomConfig(patients=3, seed=2, height=320, width=256),
                     workers=1)
    with Project.create(tmp_path / "P") as project:
        import_sources(project, [study.root], manifest=study.manifest, workers=1)
        rows = project.images.list(order="id")
        before = {r.sha256: np.array(project.cache.load_full(r.sha256)) for r in rows}
        thumbs = np.array(project.cache.thumbs())
        path = project.path
    shutil.rmtree(path / "cache")
    changed = rows[-1].path
    with open(changed, "ab") as fh:
        fh.write(b"\0\0")  # its content no longer matches the imported hash

    assert main(["cache", "rebuild", str(path), "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert f"{len(rows) - 1} rebuilt, 0 already cached, 1 failed" in captured.out
    assert f"{changed}: the source file changed since it was imported" in captured.err
    with Project.open(path) as project:
        for r in rows[:-1]:
            assert np.array_equal(project.cache.load_full(r.sha256), before[r.sha256])
            assert np.array_equal(project.cache.thumbs()[r.id], thumbs[r.id])
    # A second run finds everything (but the changed file) present.
    assert main(["cache", "rebuild", str(path), "--workers", "1"]) == 1
    assert f"0 rebuilt, {len(rows) - 1} already cached, 1 failed" in capsys.readouterr().out
