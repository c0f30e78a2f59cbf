"""``finalize``: the one entry point that makes an experiment's final model, either way.

It sits above both ways of making one (the ensemble in ``_store``, the refit
job in ``_refit``), so neither module has to import the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.final._members import FinalModelError
from engine.final._refit import submit_refit
from engine.final._store import MODES, FinalModel, _insert, ensemble_provenance, get_final_model

if TYPE_CHECKING:
    from engine.store import Project


def finalize(project: Project, name: str, mode: str = "ensemble", how: str = "mean",
             priority: int = 0, backend: str = "local") -> FinalModel:
    """Make experiment ``name``'s final model: the ensemble now, or queue its ``refit`` job."""
    if mode not in MODES:
        raise FinalModelError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "refit":
        return submit_refit(project, name, how=how, priority=priority, backend=backend)
    provenance = ensemble_provenance(project, name, how)
    return get_final_model(project, _insert(project, provenance["experiment_id"], "ensemble", provenance))
