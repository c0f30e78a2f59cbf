"""Small models sharing one GPU: training throughput of N = 1, 2, 4 workers on one device.

Builds a project of ``--images`` synthetic radiographs (5-fold split), then for each N queues
the same ``--jobs`` training jobs (resnet10t, 128 px, ``--epochs`` epochs, batch ``--batch``:
the quick preset's and the tuning trials' kind of job) and runs them with real worker
processes: ``affengine workers P --gpus 0 --per-gpu N --exit-when-idle`` (on the CPU,
``--cpu N``). Throughput is every job's training images over the wall time from starting
the workers to the last one leaving (worker start-up, validation and checkpoints included)::

    python benchmarks/workers_bench.py --device cuda            # on a GPU machine
    python benchmarks/workers_bench.py --device cpu --n 1,2 --images 96 --jobs 2 --epochs 1 --size 64

Prints ``RESULT workers_images_per_s_n<N> <img/s>`` per N and
``RESULT workers_speedup_n<N> <ratio to N=1>``.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (GPU 0, shared) or cpu")
    ap.add_argument("--n", default="1,2,4", help="worker counts to time")
    ap.add_argument("--model", default="resnet10t")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=8, help="training jobs per N (folds of 2 experiments)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=300, help="seconds allowed per N")
    ap.add_argument("--png-side", type=int, default=1024, help="source PNG side (reuses a --keep project)")
    ap.add_argument("--keep", help="build the data in this folder and keep it")
    args = ap.parse_args(argv)

    from train_bench import build_data

    from engine.experiments import create_experiment, experiment_jobs
    from engine.store import Project
    from engine.train import RunSpec

    root = Path(args.keep or tempfile.mkdtemp(prefix="workers_bench_"))
    t0 = time.perf_counter()
    project_path, _ = build_data(root, args.images, args.png_side)
    print(f"data: {args.images} images in {time.perf_counter() - t0:.1f} s")
    spec = RunSpec(project=str(project_path), split="bench", fold=0, model=args.model, pretrained=False,
                   image_size=args.size, epochs=args.epochs, batch_size=args.batch, warmup_epochs=0.5,
                   device="auto", progress_every=50, checkpoint_every_s=60.0,
                   num_threads=None if args.device.startswith("cuda") else 1)
    rates = {}
    for n in (int(x) for x in args.n.split(",")):
        names = []
        with Project.open(project_path) as project:
            left = args.jobs
            while left > 0:
                folds = list(range(min(5, left)))
                name = f"n{n}-{len(names)}"
                create_experiment(project, name, spec, folds=folds, repeats=1)
                names.append(name)
                left -= len(folds)
        workers = (["--gpus", "0", "--per-gpu", str(n)] if args.device.startswith("cuda")
                   else ["--cpu", str(n)])
        logs = root / f"logs-n{n}"
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "engine", "workers", str(project_path), *workers,
                                 "--exit-when-idle", "--log-dir", str(logs)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM reaches the workers through the CLI (they run in their own sessions)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=120)
            print(f"N={n}: stopped after --timeout {args.timeout:g} s")
        wall = time.perf_counter() - t
        with Project.open(project_path) as project:
            jobs = [j for name in names for j in experiment_jobs(project, name)]
            images = 0
            for j in jobs:
                m = project.runs_dir / j.run_id / "metrics.json"
                if j.state == "finished" and m.exists():
                    images += sum(h["train_images"] for h in json.loads(m.read_text())["history"])
        states = sorted({j.state for j in jobs})
        if proc.returncode != 0 or states != ["finished"]:
            print(out)
            for log in sorted(logs.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}")
            print(f"N={n}: workers exit {proc.returncode}, job states {states}")
            return 1
        rates[n] = images / wall
        print(f"N={n}: {len(jobs)} jobs, {images} training images in {wall:.1f} s "
              f"({len(set(j.worker for j in jobs))} workers took jobs)")
        print(f"RESULT workers_images_per_s_n{n} {rates[n]:.1f}")
    if 1 in rates:
        for n, rate in rates.items():
            if n != 1:
                print(f"RESULT workers_speedup_n{n} {rate / rates[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
