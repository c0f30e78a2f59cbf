"""The training state of one run and its epoch loop: model, optimiser, schedule, RNG, history."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from engine.models import create_model
from engine.train._augment import LIMITS, NO_FLIP, augment
from engine.train._checkpoint import CHECKPOINT_FORMAT, rng_state, set_rng_state
from engine.train._evaluate import better, validation_metrics
from engine.train._optim import WarmupCosine, build_optimizer
from engine.train._outputs import finite
from engine.train._overhead import NoClock
from engine.train._resolve import Resolved
from engine.train._sampling import epoch_order, sample_weights, steps_per_epoch
from engine.train._spec import RunSpec
from engine.train._step import Predictor, Stepper


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Trainer:
    """Trains ``spec.model`` on ``train_images`` and validates on ``val_images`` (uint8, on device).

    Everything a resumed run needs is in :meth:`state_dict`; the epoch position (epoch,
    step, the epoch's image order) is part of it, so a run stopped between any two steps
    continues exactly where it was.
    """

    def __init__(self, spec: RunSpec, resolved: Resolved, train_images: torch.Tensor,
                 train_labels: np.ndarray, val_images: torch.Tensor, val_labels: np.ndarray,
                 log: Callable[[str], None], clock=None):
        self.spec, self.resolved, self.log = spec, resolved, log
        # the run's PhaseClock: the session's first step is "warmup", progress callbacks "events"
        self.clock = clock if clock is not None else NoClock()
        self.warmed_up = False
        self.device = device = torch.device(resolved.device)
        self.train_images, self.val_images = train_images, val_images
        self.train_labels_cpu = torch.as_tensor(train_labels, dtype=torch.int64)
        self.train_labels = self.train_labels_cpu.to(device)
        self.val_labels = np.asarray(val_labels, np.int64)
        self.loss_weights = sample_weights(self.train_labels, spec.balance)

        torch.manual_seed(spec.seed)  # weight init draws from torch's global generator
        extra = {"drop_path_rate": spec.drop_path} if spec.drop_path else {}
        model = create_model(spec.model, pretrained=spec.pretrained, num_classes=2, in_chans=1,
                             img_size=resolved.image_size, weights_file=spec.weights_file, **extra)
        model = model.to(device)
        if resolved.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        cfg = getattr(model, "pretrained_cfg", None) or {}
        self.mean = float(np.mean(cfg.get("mean", (0.485, 0.456, 0.406))))
        self.std = float(np.mean(cfg.get("std", (0.229, 0.224, 0.225))))
        self.forward = model
        if resolved.compile:  # checkpoints keep saving ``model`` (the plain module's weights)
            mode = "reduce-overhead" if resolved.cuda_graphs else None
            self.forward = torch.compile(model, backend=resolved.compile_backend or "inductor", mode=mode)

        self.steps_per_epoch = steps_per_epoch(len(train_labels), spec.batch_size)
        self.optimizer = build_optimizer(model, spec.lr, spec.weight_decay, resolved.fused_optimizer,
                                         layer_decay=spec.layer_decay)
        self.schedule = WarmupCosine(self.optimizer, spec.lr, self.steps_per_epoch * spec.epochs,
                                     round(spec.warmup_epochs * self.steps_per_epoch), spec.schedule)
        self.scaler = torch.amp.GradScaler("cuda") if resolved.precision == "fp16" else None
        self.generators = {
            "order": torch.Generator().manual_seed(spec.seed + 1),
            "augment": torch.Generator(device=device).manual_seed(spec.seed + 2),
        }
        self.stepper = Stepper(self.forward, self.optimizer, self.scaler, resolved.autocast,
                               spec.batch_size, device, log)
        # Validation runs the plain model: compiling its eval graph (and one per last-batch shape)
        # would cost more warm-up than the compiled forward saves on a few hundred images.
        self.predictor = Predictor(self.model, resolved.autocast, 2 * spec.batch_size, self.mean,
                                   self.std, resolved.channels_last, device, log)
        # Position in the run (0-based epoch; step within it) and what the epoch has summed so far.
        self.epoch, self.step, self.order = 0, 0, None
        self.loss_sum = torch.zeros((), device=device)
        self.seen, self.train_seconds = 0, 0.0
        self.history: list[dict] = []
        self.best: dict | None = None
        self.best_probs: np.ndarray | None = None
        self.since_best, self.stopped_early = 0, False

    # -- one epoch ---------------------------------------------------------------------------
    def train_epoch(self, should_stop: Callable[[], bool] | None,
                    on_progress: Callable[[Trainer, float], None]) -> bool:
        """Train up to the end of the current epoch; ``False`` when ``should_stop`` said stop."""
        spec, b = self.spec, self.spec.batch_size
        if self.order is None:
            self.order = epoch_order(self.train_labels_cpu, spec.balance, self.generators["order"])
            self.loss_sum.zero_()
            self.seen, self.train_seconds = 0, 0.0
        order = self.order.to(self.device)
        self.model.train()
        t0, images_before = time.perf_counter(), self.seen
        for s in range(self.step, self.steps_per_epoch):
            if should_stop is not None and should_stop():
                _sync(self.device)
                self.train_seconds += time.perf_counter() - t0
                return False
            idx = order[s * b:(s + 1) * b]
            x = augment(self.train_images[idx], self.generators["augment"], spec.augment, self.mean, self.std,
                        limits=NO_FLIP if spec.orientation == "canonical" else LIMITS)
            if self.resolved.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self.schedule.apply()
            if self.resolved.cuda_graphs:  # a new step: the graphs' previous outputs may be reused
                torch.compiler.cudagraph_mark_step_begin()
            if self.warmed_up:
                loss = self.stepper.step(x, self.train_labels[idx], self.loss_weights[idx])
            else:  # compilation, autotuning and first allocations happen here: timed as warm-up
                with self.clock.phase("warmup"):
                    loss = self.stepper.step(x, self.train_labels[idx], self.loss_weights[idx])
                    _sync(self.device)
                self.warmed_up = True
            self.schedule.advance()
            self.loss_sum += loss * idx.shape[0]
            self.seen += int(idx.shape[0])
            self.step = s + 1
            if self.step % spec.progress_every == 0 or self.step == self.steps_per_epoch:
                _sync(self.device)  # the event reads the loss (a sync anyway): the wait is step time
                elapsed = time.perf_counter() - t0
                on_progress(self, (self.seen - images_before) / max(elapsed, 1e-9))
        _sync(self.device)
        self.train_seconds += time.perf_counter() - t0
        return True

    def running_loss(self) -> float | None:
        return finite(self.loss_sum.item() / self.seen) if self.seen else None

    def end_epoch(self) -> dict:
        """Validate, record the epoch in the history, track the best; returns the epoch's record."""
        t0 = time.perf_counter()
        train_loss = self.running_loss()
        if train_loss is None:
            raise FloatingPointError(f"training loss is not finite in epoch {self.epoch + 1}; "
                                     f"lower the learning rate ({self.spec.lr:g})")
        self.model.eval()
        logits = self.predictor.logits(self.val_images).numpy()
        self.model.train()
        metrics, probs = validation_metrics(logits, self.val_labels)
        val_seconds = time.perf_counter() - t0
        record = {"epoch": self.epoch + 1, "train_loss": train_loss,
                  "val_loss": finite(metrics["val_loss"]), "val_auc": metrics["val_auc"],
                  "val_bal_acc": metrics["val_bal_acc"], "lr": self.schedule.current_lr,
                  "epoch_seconds": self.train_seconds + val_seconds,
                  "train_seconds": self.train_seconds, "val_seconds": val_seconds,
                  "train_images": self.seen, "train_images_per_s": self.seen / max(self.train_seconds, 1e-9)}
        record["is_best"] = better(record, self.best)
        if record["is_best"]:
            self.best = {k: record[k] for k in ("epoch", "val_loss", "val_auc", "val_bal_acc")}
            self.best_probs, self.since_best = probs, 0
        else:
            self.since_best += 1
        self.history.append(record)
        self.epoch, self.step, self.order = self.epoch + 1, 0, None
        if self.spec.patience and self.since_best >= self.spec.patience and self.epoch < self.spec.epochs:
            self.stopped_early = True
        return record

    # -- checkpoints -------------------------------------------------------------------------
    def model_state(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, "spec": self.spec.to_json(), "model": self.model.state_dict(),
                "image_size": self.resolved.image_size, "mean": self.mean, "std": self.std,
                "epoch": self.epoch}

    def state_dict(self, extra: dict) -> dict:
        state = self.model_state()
        state.update(extra)
        state.update({
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng_state(self.generators, self.device),
            "step": self.step, "order": self.order, "loss_sum": self.loss_sum.cpu(), "seen": self.seen,
            "train_seconds": self.train_seconds, "micro_batch": self.stepper.micro_batch,
            "eval_batch": self.predictor.batch, "optimizer_steps": self.stepper.steps,
            "history": self.history, "best": self.best,
            "best_probs": None if self.best_probs is None else torch.from_numpy(self.best_probs),
            "since_best": self.since_best, "stopped_early": self.stopped_early,
        })
        return state

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], self.generators, self.device)
        self.epoch, self.step, self.order = int(state["epoch"]), int(state["step"]), state["order"]
        self.loss_sum = state["loss_sum"].to(self.device)
        self.seen, self.train_seconds = int(state["seen"]), float(state["train_seconds"])
        self.stepper.micro_batch = int(state["micro_batch"])
        self.stepper.steps = int(state["optimizer_steps"])
        self.predictor.batch = int(state["eval_batch"])
        self.history, self.best = list(state["history"]), state["best"]
        self.best_probs = None if state["best_probs"] is None else state["best_probs"].numpy()
        self.since_best, self.stopped_early = int(state["since_best"]), bool(state["stopped_early"])
