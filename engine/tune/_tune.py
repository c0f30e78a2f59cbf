"""Equal-budget tuning: Optuna on inner patient-grouped folds of one outer training fold.

A training job whose spec has ``tune_trials`` N > 0 first runs N Optuna trials (TPE sampler
seeded by the spec's seed, median pruner on the inner validation AUC) on ``tune_inner_folds``
patient-grouped, stratified inner folds of the **outer training side only**; the outer
validation fold is never seen. Each trial samples, relative to the spec's own (recipe) values:

* learning rate x 10^u, u in [-1, 1] (log-uniform: lr / 10 .. lr x 10);
* weight decay x 10^u, u in [-1, 1] (0.0 .. 0.1 when the spec has none);
* augmentation strength in [a - 0.3, a + 0.3], clipped to [0, 1].

The objective is the mean over inner folds of the best validation AUC. The trials live in an
Optuna journal file in the run folder (``tuning/journal.log``), so a killed or cancelled job
resumes with the trials it finished; ``tuning/tuning.json`` holds the chosen values, which the
job then trains with on the whole outer training fold (the ordinary run in the same folder).
Every model in a study gets the same N, the same inner folds and the same relative space.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import EngineError

TUNED = ("lr", "weight_decay", "augment")
TUNING_DIR = "tuning"
RESULT = "tuning.json"


class _Stop(EngineError):
    """The job was asked to stop in the middle of a trial."""


def search_space(trial, spec) -> dict:
    lr = spec.lr * trial.suggest_float("lr_factor", 0.1, 10.0, log=True)
    if spec.weight_decay > 0:
        wd = spec.weight_decay * trial.suggest_float("wd_factor", 0.1, 10.0, log=True)
    else:
        wd = trial.suggest_float("weight_decay", 0.0, 0.1)
    a = trial.suggest_float("augment", max(0.0, spec.augment - 0.3), min(1.0, spec.augment + 0.3))
    return {"lr": float(min(lr, 9.99)), "weight_decay": float(wd), "augment": float(a)}


def budget_sentence(trials: int, inner_folds: int) -> str:
    return f"each model: {trials} trials x {inner_folds} inner folds"


def read_tuning(run_dir: str | Path) -> dict | None:
    """The tuning result of a run folder (chosen values, trials), or None when it was not tuned."""
    path = Path(run_dir) / TUNING_DIR / RESULT
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _inner_data(spec):
    from engine.splits import assign_folds, load_split
    from engine.store import Project
    from engine.train import load_fold, orientation_plan, prepare_images
    from engine.train._resolve import resolve

    resolved = resolve(spec)
    with Project.open(spec.project) as project:
        fold = load_fold(project, spec)
        split = load_split(project, spec.split, fold.split_version)
        patient = dict(zip(split.plan.image_ids.tolist(), split.plan.patients.tolist()))
        ids = fold.train_ids
        inner = assign_folds(ids, [patient[i] for i in ids.tolist()], fold.train_labels,
                             k=spec.tune_inner_folds, seed=spec.seed)
        mirror = orientation_plan(project, ids).mirror if spec.orientation == "canonical" else None
        images = prepare_images(project, ids, resolved.image_size, resolved.device, mirror=mirror)
    return resolved, images, fold.train_labels, inner.folds


def tune(spec, run_dir: str | Path, should_stop: Callable[[], bool] | None = None,
         emit: Callable[..., object] | None = None) -> dict | None:
    """Run (or finish) the spec's tuning trials; returns the result dict, None when stopped."""
    import optuna
    import torch
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from engine.train._resolve import run_environment
    from engine.train._trainer import Trainer

    folder = Path(run_dir) / TUNING_DIR
    done = read_tuning(run_dir)
    if done is not None:
        return done
    folder.mkdir(parents=True, exist_ok=True)
    emit = emit or (lambda *a, **k: None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    study = optuna.create_study(study_name="tune", storage=storage, direction="maximize",
                                load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=spec.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1))
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)  # killed mid-trial
    counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    resolved, images, labels, inner = _inner_data(spec)
    k, n = spec.tune_inner_folds, spec.tune_trials

    def objective(trial):
        values = search_space(trial, spec)
        number = len(study.get_trials(deepcopy=False, states=counted)) + 1
        shown = ", ".join(f"{a}={b:.3g}" for a, b in values.items())
        emit("log", message=f"tuning trial {number}/{n}: {shown}", trial=number, trials=n)
        best = []
        for f in range(k):
            tr, va = inner != f, inner == f
            torch.manual_seed(spec.seed + f)
            t = Trainer(spec.replace(**values), resolved, images[np.flatnonzero(tr)], labels[tr],
                        images[np.flatnonzero(va)], labels[va], lambda m: None)
            while t.epoch < spec.epochs:
                if not t.train_epoch(should_stop, lambda *_: None):
                    raise _Stop
                record = t.end_epoch()
                trial.report(float(record["val_auc"]), f * spec.epochs + record["epoch"] - 1)
                if trial.should_prune():
                    emit("log", message=f"tuning trial {number}/{n} pruned at inner fold {f} epoch "
                                        f"{record['epoch']}", trial=number, trials=n)
                    raise optuna.TrialPruned()
            best.append(float(t.best["val_auc"]))
        score = float(np.mean(best))
        emit("log", message=f"tuning trial {number}/{n}: mean inner AUC {score:.4f}", trial=number, trials=n)
        return score

    with run_environment(resolved):
        while len(study.get_trials(deepcopy=False, states=counted)) < n:
            try:
                study.optimize(objective, n_trials=1, catch=())
            except _Stop:
                return None
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        chosen = {name: getattr(spec, name) for name in TUNED}  # every trial pruned: keep the recipe
    else:
        best = max(complete, key=lambda t: t.value)
        chosen = _values(best.params, spec)
    result = {"trials": n, "inner_folds": k, "chosen": chosen,
              "best_inner_auc": None if not complete else float(max(t.value for t in complete)),
              "completed": len(complete), "pruned": len(study.get_trials(
                  deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))),
              "base": {name: getattr(spec, name) for name in TUNED},
              "budget": budget_sentence(n, k), "sampler": "TPE", "pruner": "median (inner val AUC)"}
    tmp = folder / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(folder / RESULT)
    emit("log", message=f"tuning done ({result['budget']}): " + ", ".join(
        f"{a}={b:.3g}" for a, b in chosen.items()), trial=n, trials=n)
    return result


def _values(params: dict, spec) -> dict:
    lr = spec.lr * params["lr_factor"]
    wd = spec.weight_decay * params["wd_factor"] if "wd_factor" in params else params["weight_decay"]
    return {"lr": float(min(lr, 9.99)), "weight_decay": float(wd), "augment": float(params["augment"])}


def run_tuning(spec, run_dir: str | Path, should_stop: Callable[[], bool] | None = None,
               progress: Callable[[dict], None] | None = None):
    """Tune ``spec`` in ``run_dir`` (events go to the run's ``events.jsonl``); returns the spec to
    train on the whole outer training fold with the chosen values, or None when stopped."""
    from engine.runs import EventWriter
    from engine.train import EVENTS

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    writer = EventWriter(run_dir / EVENTS)

    def emit(type: str, **payload):
        event = writer.emit(type, **payload)
        if progress is not None:
            progress(event)

    try:
        result = tune(spec, run_dir, should_stop, emit)
    except BaseException as exc:
        import traceback

        emit("failed", error=f"tuning: {type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        raise
    finally:
        writer.close()
    return None if result is None else spec.replace(**result["chosen"])
