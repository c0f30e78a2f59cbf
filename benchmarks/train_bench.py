"""Training throughput: the engine's loop vs the bare model step and vs an ImageFolder pipeline.

Builds a temporary project (and a PNG folder of the same images) of synthetic radiographs,
then measures, with the same model, batch, precision and threads:

* engine: training images/s of ``engine.train.train_run`` over the cached dataset (last epoch);
* bare step: forward + backward + optimiser step on one batch already in memory;
* imagefolder: a hand-written ``torchvision.datasets.ImageFolder`` + ``DataLoader`` loop over
  the PNG files (Grayscale, RandomResizedCrop, RandomHorizontalFlip, ToTensor, Normalize).

Prints one line per figure and ends with ``RESULT train_vs_bare_step <ratio>`` (target >= 0.95)
and ``RESULT train_vs_imagefolder <ratio>`` (target >= 2 on CPU). On a GPU, e.g.::

    python benchmarks/train_bench.py --device cuda --model resnet50 --size 224 --batch 256 \\
        --images 2048 --peak-tflops 989

also prints model FLOP utilisation against ``--peak-tflops`` and the data-wait share.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic(label: int, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A noisy radiograph stand-in with a horizontal (AFF) or oblique (NFF) bright band."""
    img = rng.normal(70, 25, (height, width)).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    centre = rng.uniform(0.3, 0.7) * height
    slope = 0.0 if label else 0.8
    img[np.abs((yy - centre) - (xx - width / 2) * slope) < height * 0.03] += 120
    return np.clip(img, 0, 255).astype(np.uint8)


def _make_image(job):
    """Write one source PNG; returns what the project needs (runs in a worker process)."""
    from PIL import Image

    from engine.store import CACHE_SIDE

    k, side, seed, png = job
    rng = np.random.default_rng([seed, k])
    y = int(k % 5 == 0)  # 20% AFF, as in the study
    height, width = side, int(side * 0.8)
    pixels = synthetic(y, rng, height, width)
    path = Path(png) / ("AFF" if y else "NFF") / f"{k:05d}.png"
    Image.fromarray(pixels).save(path, compress_level=1)
    scale = min(1.0, CACHE_SIDE / side)
    cached = np.asarray(Image.fromarray(pixels).resize((round(width * scale), round(height * scale)),
                                                       Image.Resampling.BILINEAR))
    return k, y, hashlib.sha256(pixels.tobytes()).hexdigest(), str(path), cached


def build_data(root: Path, n: int, side: int, seed: int = 0):
    """A project with ``n`` labelled images, a 5-fold split, and PNG copies with long side ``side``.

    The project's cache holds each image at long side <= 1024 (as import writes it); the PNG
    folder holds the source-size images that a hand-written pipeline decodes every epoch.
    """
    from concurrent.futures import ProcessPoolExecutor

    from engine.splits import create_split
    from engine.store import ImageRecord, Project

    png = root / f"png_{side}"
    project_dir = root / f"Bench_{side}.affproj"
    if (project_dir / "project.sqlite").exists():  # --keep from an earlier run
        return project_dir, png
    for label in ("AFF", "NFF"):
        (png / label).mkdir(parents=True, exist_ok=True)
    with Project.create(project_dir) as project, ProcessPoolExecutor() as pool:
        labels = {}
        jobs = [(k, side, seed, str(png)) for k in range(n)]
        with project.transaction() as conn:
            for k, y, sha, path, cached in pool.map(_make_image, jobs, chunksize=4):
                project.cache.write_full(sha, cached)
                rec = ImageRecord(path=path, source_folder=str(png), sha256=sha, bytes=side * side,
                                  format="png", width=int(side * 0.8), height=side,
                                  patient_key=f"P{k // 3:05d}", cache_height=cached.shape[0],
                                  cache_width=cached.shape[1])
                labels[project.images.insert(conn, rec)] = "AFF" if y else "NFF"
        project.labels.set_each(labels, "bench", "cli")
        create_split(project, "bench", k=5, seed=seed)
        return project.path, png


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model_and_optimizer(spec, resolved):
    import torch

    from engine.models import create_model
    from engine.train import build_optimizer

    torch.manual_seed(0)
    model = create_model(spec.model, pretrained=False, num_classes=2, in_chans=1,
                         img_size=resolved.image_size).to(resolved.device)
    fmt = torch.channels_last if resolved.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    forward = model
    if resolved.compile:
        forward = torch.compile(model, backend=resolved.compile_backend,
                                mode="reduce-overhead" if resolved.cuda_graphs else None)
    return forward, build_optimizer(model, spec.lr, spec.weight_decay, resolved.fused_optimizer), fmt


class BareStep:
    """Forward + backward + AdamW step on one normalised batch kept in memory."""

    def __init__(self, spec, resolved):
        import torch

        self.device = torch.device(resolved.device)
        self.resolved = resolved
        self.model, self.opt, fmt = _model_and_optimizer(spec, resolved)
        g = torch.Generator().manual_seed(1)
        size = (spec.batch_size, 1, resolved.image_size, resolved.image_size)
        self.x = torch.randn(size, generator=g).to(self.device).contiguous(memory_format=fmt)
        self.y = torch.randint(0, 2, (spec.batch_size,), generator=g).to(self.device)
        for _ in range(3):
            self._step()

    def _step(self):
        import torch
        import torch.nn.functional as F

        if self.resolved.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with self.resolved.autocast():
            loss = F.cross_entropy(self.model(self.x).float(), self.y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def step_seconds(self) -> float:
        _sync(self.device)
        t0 = time.perf_counter()
        self._step()
        _sync(self.device)
        return time.perf_counter() - t0


class ImageFolderLoop:
    """The usual hand-written loop: ImageFolder + DataLoader over PNG files, standard transforms."""

    def __init__(self, spec, resolved, png: Path, workers: int):
        import torch
        from torchvision import datasets, transforms

        self.device = torch.device(resolved.device)
        self.resolved = resolved
        tf = transforms.Compose([
            transforms.Grayscale(1), transforms.RandomResizedCrop(resolved.image_size),
            transforms.RandomHorizontalFlip(), transforms.ToTensor(),
            transforms.Normalize([0.449], [0.226])])
        self.loader = torch.utils.data.DataLoader(
            datasets.ImageFolder(str(png), transform=tf), batch_size=spec.batch_size, shuffle=True,
            num_workers=workers, drop_last=True, persistent_workers=workers > 0,
            pin_memory=self.device.type == "cuda")
        self.model, self.opt, self.fmt = _model_and_optimizer(spec, resolved)

    def epoch_images_per_s(self) -> float:
        import torch.nn.functional as F

        seen, t0 = 0, time.perf_counter()
        for x, y in self.loader:
            x = x.to(self.device, non_blocking=True).contiguous(memory_format=self.fmt)
            y = y.to(self.device, non_blocking=True)
            with self.resolved.autocast():
                loss = F.cross_entropy(self.model(x).float(), y)
            loss.backward()
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
            seen += x.shape[0]
        _sync(self.device)
        return seen / (time.perf_counter() - t0)


def data_seconds_per_batch(spec, resolved, project_path: Path, batches: int) -> float:
    """Seconds per batch of the engine's data path alone: gather + augment on the device."""
    import torch

    from engine.store import Project
    from engine.train import augment, prepare_images

    device = torch.device(resolved.device)
    with Project.open(project_path) as project:
        ids = [r.id for r in project.images.list(order="id")]
        images = prepare_images(project, ids, resolved.image_size, device)
    g = torch.Generator(device=device).manual_seed(0)
    order = torch.randperm(len(ids), device=device)
    b = spec.batch_size
    for _ in range(2):
        augment(images[order[:b]], g, spec.augment, 0.449, 0.226)
    _sync(device)
    t0 = time.perf_counter()
    for i in range(batches):
        start = (i * b) % max(1, len(ids) - b)
        x = augment(images[order[start:start + b]], g, spec.augment, 0.449, 0.226)
        if resolved.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
    _sync(device)
    return (time.perf_counter() - t0) / batches


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="resnet10t")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=256, help="synthetic images (default 256)")
    ap.add_argument("--png-side", type=int, default=2500,
                    help="long side of the source PNGs (default 2500, a full-size radiograph; 1024 = "
                         "PNGs already shrunk to the cache size)")
    ap.add_argument("--epochs", type=int, default=4, help="engine epochs (>= 2; epoch 1 is warm-up)")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-backend", default="inductor")
    ap.add_argument("--cuda-graphs", action="store_true")
    ap.add_argument("--peak-tflops", type=float, help="device peak TFLOP/s for model FLOP utilisation")
    ap.add_argument("--keep", help="build the data in this folder and keep it")
    args = ap.parse_args(argv)

    import torch

    from engine.train import RunSpec, resolve, train_run

    torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory(prefix="train_bench_") if not args.keep else None
    root = Path(args.keep or tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    project_path, png = build_data(root, args.images, args.png_side)
    print(f"data {args.images} images {args.png_side} px built in {time.perf_counter() - t0:.1f} s")

    spec = RunSpec(project=str(project_path), split="bench", fold=0, model=args.model, pretrained=False,
                   image_size=args.size, epochs=args.epochs, batch_size=args.batch, augment=0.5,
                   precision=args.precision, device=args.device, num_threads=args.threads,
                   compile=args.compile, compile_backend=args.compile_backend, cuda_graphs=args.cuda_graphs,
                   progress_every=1, warmup_epochs=0)
    resolved = resolve(spec)
    print(f"device {resolved.device_name} precision {resolved.precision} threads {args.threads} "
          f"model {args.model} size {args.size} batch {args.batch} channels_last {resolved.channels_last}")

    # The machines are shared and noisy (throughput moves 2-5x within a minute), so the loops
    # are interleaved. (a) After every engine step (its "progress" event) one bare step runs;
    # each engine step is compared with the bare step right after it. (b) After every engine
    # epoch (its "metric" event) one ImageFolder epoch runs. Epoch 1 (warm-up, worker start)
    # and each epoch's first step are left out; medians are reported.
    bare = BareStep(spec, resolved)
    folder = ImageFolderLoop(spec, resolved, png, args.workers)
    pairs, epochs, clock = [], {}, {"end": None}

    def interleave(event):
        now = time.perf_counter()
        if event["type"] == "progress":
            engine_s = None if clock["end"] is None or event["epoch_step"] == 1 else now - clock["end"]
            bare_s = bare.step_seconds()
            if engine_s is not None and event["epoch"] > 1:
                pairs.append((engine_s, bare_s))
                epochs.setdefault(event["epoch"], []).append(engine_s)
        elif event["type"] == "metric":
            epochs[event["epoch"], "imagefolder"] = folder.epoch_images_per_s()
        clock["end"] = time.perf_counter()

    t0 = time.perf_counter()
    shutil.rmtree(root / "run", ignore_errors=True)
    result = train_run(spec, root / "run", progress=interleave)
    total = time.perf_counter() - t0
    metrics = json.loads(result.metrics_path.read_text())
    compute, last = metrics["compute"], metrics["history"][-1]
    engine_t = np.array([e for e, _ in pairs])
    bare_t = np.array([b for _, b in pairs])
    vs_bare = bare_t / engine_t
    vs_folder = []
    for epoch in range(2, args.epochs + 1):
        rate = args.batch / float(np.median(epochs[epoch]))
        baseline = epochs[epoch, "imagefolder"]
        vs_folder.append(rate / baseline)
        print(f"epoch {epoch}: engine {rate:.1f} img/s (median step), imagefolder {baseline:.1f} img/s "
              f"(epoch right after; num_workers={args.workers}, PNG {args.png_side} px)")
    engine = args.batch / float(np.median(engine_t))
    print(f"engine_train_images_per_s {engine:.1f} (median of {len(engine_t)} steps; "
          f"min {args.batch / engine_t.max():.1f}, max {args.batch / engine_t.min():.1f})")
    bare_rate = args.batch / float(np.median(bare_t))
    print(f"bare_step_images_per_s {bare_rate:.1f} (median of {len(bare_t)} steps)")
    print(f"engine_vs_bare_per_step quartiles {np.percentile(vs_bare, 25):.3f} {np.median(vs_bare):.3f} "
          f"{np.percentile(vs_bare, 75):.3f}; ratio of sums {bare_t.sum() / engine_t.sum():.3f}")
    print(f"engine_validation_seconds {last['val_seconds']:.2f} per epoch "
          f"({metrics['data']['val_images']} images)")
    print(f"wall_seconds {total:.1f} (engine run with the interleaved baselines)")
    data_s = data_seconds_per_batch(spec, resolved, project_path, batches=8)
    engine_step_s = args.batch / engine
    print(f"data_seconds_per_batch {data_s * 1000:.2f} ms; data_wait_share {data_s / engine_step_s:.3f}")
    print(f"engine_overhead_share {max(0.0, 1 - float(np.median(vs_bare))):.3f} "
          "(1 - engine / bare, per step)")
    flops_per_image = 3 * compute["forward_flops"]  # forward + backward = ~3x forward
    print(f"forward_gflops_per_image {compute['forward_gflops']:.3f}; "
          f"train_tflops_engine {flops_per_image * engine / 1e12:.3f}")
    if args.peak_tflops:
        for name, rate in (("engine", engine), ("bare_step", bare_rate)):
            print(f"mfu_{name} {flops_per_image * rate / (args.peak_tflops * 1e12):.3f} "
                  f"(peak {args.peak_tflops:g} TFLOP/s)")
        # the engine's model FLOP utilisation as a RESULT; _compile when torch.compile ran
        mode = "_compile" if resolved.compile else ""
        print(f"RESULT mfu_{args.model}{mode} {flops_per_image * engine / (args.peak_tflops * 1e12):.3f}")
    print(f"peak_memory_bytes {compute['peak_memory_bytes']} ({compute['peak_memory_kind']})")
    print(f"RESULT train_vs_bare_step {float(np.median(vs_bare)):.3f}")
    print(f"RESULT train_vs_imagefolder {float(np.median(vs_folder)):.3f}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
