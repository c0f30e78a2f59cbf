"""``affengine train``: one training run (one model, one fold) in the foreground."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

EXIT_FAILED = 1


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train one model on one fold of a stored split",
                       description="Train one model on one fold of a stored split. Re-running the same "
                                   "command in the same --run-dir resumes from its last checkpoint.")
    p.add_argument("project")
    p.add_argument("--split", required=True, help="split name (affengine split list)")
    p.add_argument("--split-version", type=int, help="split version (default: the latest)")
    p.add_argument("--fold", type=int, required=True, help="cross-validation fold to validate on")
    p.add_argument("--model", required=True, help="registered model name (affengine models)")
    p.add_argument("--run-dir", required=True, help="run folder, e.g. PROJECT/runs/<run-id>")
    add_spec_options(p)
    p.set_defaults(func=run_train)


def add_spec_options(p) -> None:
    """The training hyper-parameters, shared by ``train`` and ``experiment create``."""
    p.add_argument("--pretrained", dest="pretrained", action="store_true", default=True,
                   help="start from ImageNet weights (default)")
    p.add_argument("--no-pretrained", dest="pretrained", action="store_false", help="train from scratch")
    p.add_argument("--weights-file", help="ImageNet weights file for --pretrained")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=_batch_size, default=32,
                   help="images per step (default 32), or 'auto': the model's throughput batch "
                        "(docs/training.md), lr moved by --lr-scaling")
    p.add_argument("--lr-scaling", choices=("linear", "sqrt"), default="linear",
                   help="with --batch-size auto: how --lr (set for batch 32) follows the batch "
                        "(default linear)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--image-size", type=int, help="square input size (default: the model's)")
    p.add_argument("--augment", type=float, default=0.5, help="augmentation strength 0..1 (default 0.5)")
    p.add_argument("--tune-trials", type=int, default=0,
                   help="Optuna trials on inner folds of each training fold before training (default 0)")
    p.add_argument("--tune-inner-folds", type=int, default=2, help="inner folds for tuning (default 2)")
    p.add_argument("--recipe", choices=("none", "family"), default="none",
                   help="family: lr, weight decay, warm-up, augmentation, drop path and layer decay from "
                        "the model family's published recipe (docs/training.md), overriding those flags")
    p.add_argument("--orientation", choices=("canonical", "as-is"), default="canonical",
                   help="canonical (default): mirror left femurs so the lateral cortex is on the image "
                        "left, no random flips; as-is: images as stored, random flips on")
    p.add_argument("--balance", default="class_weights", help="class_weights, sampler or none")
    p.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs (0 = off)")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--num-threads", type=int, help="CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the training step (the fold time includes its warm-up)")
    p.add_argument("--compile-backend", choices=("inductor", "aot_eager", "eager"), default="inductor",
                   help="torch.compile backend (default inductor)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="with --compile on a CUDA GPU: capture the step in CUDA graphs (ignored on the CPU)")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms only")
    p.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="write the resumable checkpoint at most every SECONDS (default 60; 0 = every "
                        "epoch); always at the end, on cancel and on SIGTERM")


def _batch_size(text: str):
    """``--batch-size``: a whole number >= 1 or ``auto``."""
    import argparse

    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number or 'auto'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return value


def _num(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class RunEventPrinter:
    """A progress line: rewritten in place on a terminal, else one line per 10% and per epoch."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._decile = -1

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == "progress":
            line = (f"epoch {event['epoch']}/{event['epochs']} step {event['step']}/{event['total']} "
                    f"loss {_num(event['loss'])} {event['images_per_s']:.1f} img/s "
                    f"eta {event['eta_s']:.0f} s")
            decile = int(10 * event["step"] / max(1, event["total"]))
            if self.tty:
                self.stream.write(f"\r{line:<100}")
            elif decile != self._decile:
                self.stream.write(line + "\n")
            self._decile = decile
        elif kind == "metric":
            self.stream.write(("\r" if self.tty else "") +
                              f"epoch {event['epoch']}: train loss {_num(event['train_loss'])} "
                              f"val loss {_num(event['val_loss'])} val AUC {_num(event['val_auc'])} "
                              f"bal acc {_num(event['val_bal_acc'], 3)} ({event['epoch_seconds']:.1f} s)\n")
        elif kind == "log":
            self.stream.write(("\n" if self.tty else "") + f"{event['message']}\n")
        else:
            return
        self.stream.flush()


def spec_from_args(args, fold: int):
    """A RunSpec from ``add_spec_options`` arguments (raises SpecError)."""
    from engine.train import RunSpec, apply_recipe

    auto = args.batch_size == "auto"
    spec = RunSpec(
        project=str(Path(args.project).expanduser().resolve()), split=args.split,
        split_version=args.split_version, fold=fold, model=args.model, pretrained=args.pretrained,
        weights_file=args.weights_file, image_size=args.image_size, epochs=args.epochs,
        batch_size=32 if auto else args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs, augment=args.augment, orientation=args.orientation,
        balance=args.balance,
        precision=args.precision, compile=args.compile, seed=args.seed, patience=args.patience,
        compile_backend=getattr(args, "compile_backend", "inductor"),
        cuda_graphs=getattr(args, "cuda_graphs", False),
        device=args.device, num_threads=args.num_threads, deterministic=args.deterministic,
        checkpoint_every_s=args.checkpoint_every, tune_trials=args.tune_trials,
        tune_inner_folds=args.tune_inner_folds)
    if auto:  # chosen on this machine's device for the fold's training images
        spec = _throughput(spec, getattr(args, "lr_scaling", "linear"))
    return apply_recipe(spec, getattr(args, "recipe", "none"))


def _throughput(spec, rule: str):
    from engine.store import Project
    from engine.train import load_fold, throughput_spec

    with Project.open(spec.project) as project:
        n_train = len(load_fold(project, spec).train_ids)
    return throughput_spec(spec, rule, n_train=n_train)


def run_train(args) -> int:
    from engine.cli._errors import CliError
    from engine.models import WeightsNotFoundError
    from engine.store import ProjectError
    from engine.train import SpecError, train_run

    try:
        spec = spec_from_args(args, args.fold)
    except (SpecError, ProjectError) as exc:
        raise CliError(str(exc)) from None
    stop = []
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        if stop:  # a second Ctrl-C stops at once
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.append(True)
        print("\naffengine: stopping after this step (Ctrl-C again to abort)", file=sys.stderr)

    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread
        previous = None
    try:
        result = train_run(spec, args.run_dir, should_stop=lambda: bool(stop), progress=RunEventPrinter())
    except (SpecError, ProjectError, WeightsNotFoundError) as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # the run failed; the reason is also in events.jsonl
        print(f"affengine: run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if result.state == "cancelled":
        print(f"cancelled after epoch {result.epochs_run}; run the same command again to resume "
              f"({result.run_dir})")
        return 130
    print(f"finished: best epoch {result.best_epoch}, val AUC {_num(result.best_val_auc)}; "
          f"{result.metrics_path} {result.predictions_path}")
    return 0
