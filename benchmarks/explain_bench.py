"""Batched heatmaps (engine.explain) against pytorch-grad-cam called one image at a time.

Same model, same method, same images; the baseline is the usual per-image use of
pytorch-grad-cam (one CAM object, one call per image, maps resized to the input).
Prints ``RESULT explain_batched_vs_single <ratio>`` (maps/s batched / maps/s single)::

    python benchmarks/explain_bench.py --model resnet50 --method gradcam --images 32 --batch-size 16
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _images(n: int, size: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        img = rng.normal(0.15, 0.04, (size, size))
        shaft = np.abs((xx - 0.5) - (yy - rng.uniform(0.3, 0.7)) * 0.3) < 0.12
        img[shaft] += 0.6
        out.append((np.clip(img, 0, 1) - 0.3) / 0.3)
    return torch.tensor(np.stack(out)[:, None], dtype=torch.float32)


def main() -> None:
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM

    from engine.explain import LogOddsTarget, cam_maps, reshape_transform, target_layer_of
    from engine.models import create_model, get_entry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--method", default="gradcam")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, help="input size (default: the registry's)")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is kept")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    entry = get_entry(args.model)
    size = args.size or entry.input_size
    torch.manual_seed(0)
    model = create_model(args.model, img_size=size).eval()
    x = _images(args.images, size)
    cls = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM,
           "eigencam": EigenCAM}[args.method]
    layer, reshape = target_layer_of(model, args.model)

    def single() -> None:
        with cls(model=model, target_layers=[layer],
                 reshape_transform=reshape_transform(model, reshape)) as cam:
            for i in range(len(x)):
                cam(input_tensor=x[i:i + 1], targets=[LogOddsTarget()])

    def batched() -> None:
        cam_maps(model, args.model, x, args.method, batch_size=args.batch_size)

    cam_maps(model, args.model, x[:2], args.method)  # warm-up (allocator, first-call overheads)
    times = {}
    for name, fn in (("single", single), ("batched", batched)):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    rate = {k: args.images / v for k, v in times.items()}
    print(f"model {args.model} ({size} px), method {args.method}, {args.images} images, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads")
    print(f"single  (pytorch-grad-cam, one image per call): {rate['single']:.2f} maps/s")
    print(f"batched (engine.explain.cam_maps):               {rate['batched']:.2f} maps/s")
    print(f"RESULT explain_batched_vs_single {rate['batched'] / rate['single']:.2f}")


if __name__ == "__main__":
    main()
