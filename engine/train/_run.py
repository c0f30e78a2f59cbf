"""``train_run``: one spec in one run folder, from start or resumed, with events and outputs."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.models import count_parameters
from engine.runs import EventWriter
from engine.store import Project, utc_now
from engine.train._checkpoint import load_checkpoint, save_checkpoint
from engine.train._compute import PeakMemory, forward_flops, latency
from engine.train._data import load_fold, prepare_images
from engine.train._orientation import orientation_plan
from engine.train._outputs import (
    BEST,
    CONFIG,
    EVENTS,
    LAST,
    METRICS,
    PREDICTIONS,
    TRAIN_PREDICTIONS,
    RunResult,
    write_json,
    write_predictions,
)
from engine.train._overhead import PhaseClock
from engine.train._resolve import Resolved, resolve, run_environment, versions
from engine.train._spec import EXECUTION_FIELDS, RunSpec, SpecError
from engine.train._trainer import Trainer


class _Events:
    """The run's event writer, also handing every event to the caller's ``progress``."""

    def __init__(self, path: Path, progress: Callable[[dict], None] | None, clock: PhaseClock | None = None):
        self.writer = EventWriter(path)
        self.progress = progress
        self.clock = clock

    def emit(self, type: str, **payload) -> dict:
        with self.clock.phase("events") if self.clock is not None else contextlib.nullcontext():
            event = self.writer.emit(type, **payload)
            if self.progress is not None:
                self.progress(event)
        return event


def train_run(spec: RunSpec, run_dir: str | Path, *, should_stop: Callable[[], bool] | None = None,
              progress: Callable[[dict], None] | None = None) -> RunResult:
    """Train ``spec`` in ``run_dir``; resumes from ``checkpoints/last.pt`` when the folder has one.

    ``should_stop()`` is polled before every step: when it returns true the run writes its
    last checkpoint and a ``cancelled`` event and returns with state ``cancelled``.
    ``progress(event)`` sees every event written to ``events.jsonl``. Any error is written as
    a ``failed`` event and raised again (:class:`SpecError` for a spec that cannot run).
    """
    clock = PhaseClock()  # the session's wall time, split into steps and the rest (metrics "overhead")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    events = _Events(run_dir / EVENTS, progress, clock)
    try:
        with contextlib.ExitStack() as stack:
            with clock.phase("setup"):  # entering the environment loads torch's CPU kernels (seconds)
                resolved = resolve(spec)
                stack.enter_context(run_environment(resolved))
            return _Run(spec, resolved, run_dir, events, should_stop, clock).run()
    except BaseException as exc:
        events.emit("failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        raise
    finally:
        events.writer.close()


class _Run:
    def __init__(self, spec: RunSpec, resolved: Resolved, run_dir: Path, events: _Events,
                 should_stop: Callable[[], bool] | None, clock: PhaseClock | None = None):
        self.spec, self.resolved, self.dir, self.events = spec, resolved, run_dir, events
        self.should_stop = should_stop
        self.clock = clock or PhaseClock()
        self.device = torch.device(resolved.device)
        self.t0 = time.perf_counter()
        self.wall_before = 0.0
        self.start_step, self.session_t0 = 0, 0.0

    def log(self, message: str) -> None:
        self.events.emit("log", message=message)

    def run(self) -> RunResult:
        spec = self.spec
        peak = PeakMemory(self.device)
        checkpoint = None
        clock = self.clock
        if (self.dir / LAST).exists():
            with clock.phase("checkpoints"):
                checkpoint = load_checkpoint(self.dir / LAST)
            diff = RunSpec.from_json(checkpoint["spec"]).differences(spec, EXECUTION_FIELDS)
            if diff:
                raise SpecError(f"{self.dir} holds a run of another spec ({'; '.join(diff)}); "
                                "use a new run folder")
            spec = spec.replace(split_version=checkpoint["split_version"])
        with clock.phase("data"), Project.open(spec.project) as project:
            fold = load_fold(project, spec)
            ids = np.concatenate([fold.train_ids, fold.val_ids])
            plan = orientation_plan(project, ids) if spec.orientation == "canonical" else None
            images = prepare_images(project, ids, self.resolved.image_size, self.device,
                                    mirror=None if plan is None else plan.mirror)
        self.orientation = {"mode": spec.orientation} | ({} if plan is None else plan.counts())
        n_train = len(fold.train_ids)
        with clock.phase("setup"):
            trainer = Trainer(self.spec, self.resolved, images[:n_train], fold.train_labels,
                              images[n_train:], fold.val_labels, self.log, clock=clock)
        self.fold, self.trainer = fold, trainer
        with clock.phase("outputs"):
            self._write_config(trainer)
        if checkpoint is not None:
            with clock.phase("checkpoints"):
                trainer.load_state_dict(checkpoint)
            self.wall_before = float(checkpoint["wall_seconds"])
            self.log(f"resumed from {LAST} at epoch {trainer.epoch + 1}, step {trainer.step}")
            del checkpoint
        self.events.emit("started", spec=self.spec.to_json(), run=self.spec.label(),
                         device=self.resolved.device, device_name=self.resolved.device_name,
                         image_size=self.resolved.image_size,
                         precision=self.resolved.precision, split_version=fold.split_version,
                         **fold.counts(), steps_per_epoch=trainer.steps_per_epoch,
                         total_steps=trainer.steps_per_epoch * spec.epochs,
                         resumed_epoch=trainer.epoch if trainer.epoch or trainer.step else None)
        self.start_step = trainer.epoch * trainer.steps_per_epoch + trainer.step
        self.session_t0 = time.perf_counter()
        self.last_save, self.best_pending = time.perf_counter(), None
        while trainer.epoch < spec.epochs and not trainer.stopped_early:
            with clock.phase("steps"):
                finished_epoch = trainer.train_epoch(self.should_stop, self._progress)
            if not finished_epoch:
                self._save_checkpoints(trainer.epoch)
                self.events.emit("cancelled", epoch=trainer.epoch + 1, step=trainer.step)
                return RunResult("cancelled", self.dir, _get(trainer.best, "epoch"),
                                 _get(trainer.best, "val_auc"), trainer.epoch, None, None)
            with clock.phase("validation"):
                record = trainer.end_epoch()
            if record["is_best"]:
                with clock.phase("checkpoints"):
                    self.best_pending = _cpu_copy(trainer.model_state())
            self.events.emit("metric", **{k: record[k] for k in (
                "epoch", "train_loss", "val_loss", "val_auc", "val_bal_acc", "lr", "epoch_seconds")},
                train_images_per_s=record["train_images_per_s"], best_epoch=trainer.best["epoch"])
            last_epoch = trainer.epoch >= spec.epochs or trainer.stopped_early
            if last_epoch or time.perf_counter() - self.last_save >= spec.checkpoint_every_s:
                self._save_checkpoints(record["epoch"])
            if trainer.stopped_early:
                self.log(f"early stopping after epoch {trainer.epoch}: no better validation AUC "
                         f"for {spec.patience} epochs (best epoch {trainer.best['epoch']})")
        return self._finish(peak)

    def _progress(self, trainer: Trainer, images_per_s: float) -> None:
        spec = self.spec
        done = trainer.epoch * trainer.steps_per_epoch + trainer.step
        total = trainer.steps_per_epoch * spec.epochs
        elapsed = time.perf_counter() - self.session_t0
        per_step = elapsed / max(1, done - self.start_step)  # validation included, as it will be
        self.events.emit("progress", epoch=trainer.epoch + 1, epochs=spec.epochs, step=done, total=total,
                         epoch_step=trainer.step, epoch_steps=trainer.steps_per_epoch,
                         loss=trainer.running_loss(), images_per_s=round(images_per_s, 2),
                         eta_s=round(per_step * (total - done), 1))

    def _wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.t0

    def _save_checkpoints(self, epoch: int) -> None:
        """Write ``best.pt`` (when a better epoch came since the last save), then ``last.pt``.

        ``last.pt`` (model, optimizer, RNG: about 12 bytes per parameter, 1 GB for ViT-B) is
        written every epoch when ``checkpoint_every_s`` is 0, else at most every that many
        seconds and at the end; on cancel and SIGTERM always. The best weights wait in host
        memory until then, so ``best.pt`` on disk always matches the ``best`` that ``last.pt``
        records, and a resumed run continues from a consistent pair.
        """
        with self.clock.phase("checkpoints"):
            self._save_checkpoints_now(epoch)

    def _save_checkpoints_now(self, epoch: int) -> None:
        if self.best_pending is not None:
            save_checkpoint(self.dir / BEST, self.best_pending)
            self.events.emit("artifact", kind="checkpoint", name="best", path=BEST,
                             epoch=self.best_pending["epoch"])
            self.best_pending = None
        extra = {"split_version": self.fold.split_version, "wall_seconds": self._wall()}
        save_checkpoint(self.dir / LAST, self.trainer.state_dict(extra))
        self.events.emit("artifact", kind="checkpoint", name="last", path=LAST, epoch=epoch)
        self.last_save = time.perf_counter()

    def _write_config(self, trainer: Trainer) -> None:
        resolved = self.resolved.to_json()
        resolved.update(split_version=self.fold.split_version, mean=trainer.mean, std=trainer.std,
                        steps_per_epoch=trainer.steps_per_epoch, effective_batch=self.spec.batch_size)
        write_json(self.dir / CONFIG, {"spec": self.spec.to_json(), "resolved": resolved,
                                       "data": self.fold.counts(), "orientation": self.orientation,
                                       "versions": versions(),
                                       "device": self.resolved.device_name, "written_at": utc_now()})
        self.events.emit("artifact", kind="config", name="config", path=CONFIG)

    def _compute(self, peak: PeakMemory) -> dict:
        t, r = self.trainer, self.resolved
        t.model.eval()
        flops = forward_flops(t.model, r.image_size, self.device)
        lat1, latb, lat_batch = latency(t.model, r.image_size, self.spec.batch_size, self.device,
                                        r.autocast, r.channels_last)
        images = sum(h["train_images"] for h in t.history)
        seconds = sum(h["train_seconds"] for h in t.history)
        return {
            "parameters": count_parameters(t.model), "forward_flops": flops,
            "forward_gflops": flops / 1e9, "forward_gmacs": flops / 2e9, "image_size": r.image_size,
            "train_images_per_s": images / max(seconds, 1e-9),
            "peak_memory_bytes": peak.peak_bytes(), "peak_memory_kind": peak.kind,
            "epoch_seconds": [h["epoch_seconds"] for h in t.history],
            "wall_seconds_total": self._wall(),
            "latency_ms_batch1": lat1, "latency_ms_per_image_batched": latb,
            "latency_batch": lat_batch, "device": r.device, "device_name": r.device_name,
            "precision": r.precision, "channels_last": r.channels_last, "compiled": r.compile,
            "compile_backend": r.compile_backend, "cuda_graphs": r.cuda_graphs,
            "fused_optimizer": r.fused_optimizer,
            "effective_batch": self.spec.batch_size, "micro_batch": t.stepper.micro_batch,
            "optimizer_steps": t.stepper.steps, "num_threads": r.num_threads,
        }

    def _write_train_predictions(self) -> None:
        """``train_predictions.csv``: for thresholds chosen on training data, never for performance."""
        fold = self.fold
        write_predictions(self.dir / TRAIN_PREDICTIONS, fold.train_ids, fold.train_patients, self.spec.fold,
                          _train_probabilities(self.trainer, self.dir / BEST), fold.train_labels)

    def _finish(self, peak: PeakMemory) -> RunResult:
        t, spec, fold = self.trainer, self.spec, self.fold
        with self.clock.phase("outputs"):
            compute = self._compute(peak)
            predictions = write_predictions(self.dir / PREDICTIONS, fold.val_ids, fold.val_patients,
                                            spec.fold, t.best_probs, fold.val_labels)
        self.events.emit("artifact", kind="predictions", name="predictions", path=PREDICTIONS)
        with self.clock.phase("outputs"):
            self._write_train_predictions()
        # the session's wall time up to here (metrics.json and the finished event come after)
        overhead = self.clock.summary()
        final = {k: t.history[-1][k] for k in ("epoch", "train_loss", "val_loss", "val_auc", "val_bal_acc")}
        history = [{k: v for k, v in h.items() if k != "is_best"} for h in t.history]
        metrics = write_json(self.dir / METRICS, {
            "state": "finished", "spec": spec.to_json(), "split_version": fold.split_version,
            "best_epoch": t.best["epoch"], "best_val_auc": t.best["val_auc"], "best": t.best,
            "final": final, "epochs_run": t.epoch, "stopped_early": t.stopped_early,
            "data": fold.counts(), "history": history, "compute": compute, "overhead": overhead,
            "written_at": utc_now()})
        self.events.emit("artifact", kind="metrics", name="metrics", path=METRICS)
        self.events.emit("finished", best_epoch=t.best["epoch"], best_val_auc=t.best["val_auc"],
                         epochs_run=t.epoch, metrics=METRICS, predictions=PREDICTIONS,
                         overhead_share=overhead["overhead_share"], overhead=overhead)
        return RunResult("finished", self.dir, t.best["epoch"], t.best["val_auc"], t.epoch, metrics,
                         predictions)


def _train_probabilities(trainer: Trainer, best_path: Path) -> np.ndarray:
    """The best epoch's AFF probabilities on the training images (the weights of ``best.pt``)."""
    from engine.train._evaluate import softmax_aff

    trainer.model.load_state_dict(load_checkpoint(best_path)["model"])
    trainer.model.eval()
    return softmax_aff(trainer.predictor.logits(trainer.train_images).numpy())


def _cpu_copy(state: dict) -> dict:
    """``state`` with its tensors copied to host memory (the live ones keep training)."""
    import torch

    def copy(v):
        if isinstance(v, torch.Tensor):
            return v.detach().to("cpu", copy=True)
        if isinstance(v, dict):
            return {k: copy(x) for k, x in v.items()}
        return v

    return copy(state)


def _get(d: dict | None, key: str):
    return None if d is None else d[key]
