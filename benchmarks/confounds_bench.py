"""Confounds off: a CNN that sees everything but the fracture region learns nothing.

For each of ``--confounds none`` and ``realistic`` (same seed), renders a balanced
phantom study in memory, blanks the fracture band of every image (the rows around
the fracture's lateral entry that hold every ROI of the study plus ``--margin-mm``,
over the full width: ``engine.phantom.band_half_mm`` / ``roi_band``; blanking each
image's own ROI box would leave the box's shape as a label cue), and trains resnet10t
from scratch (the registry's model, ``engine.models.create_model``) with
patient-grouped, label-stratified k-fold CV. Prints the pooled out-of-fold image AUC:

    RESULT masked_auc_confounds_none <auc>         (must be <= 0.6: issue 15)
    RESULT masked_auc_confounds_realistic <auc>    (what the confounds give away)

    python benchmarks/confounds_bench.py [--patients 200] [--epochs 10] [--folds 3]
        [--size 160x128] [--threads 2] [--device cpu]

About 6-9 minutes on the 2-core development machine at the defaults; too slow
for the test suite (tests/engine/test_phantom_confounds.py checks the design
directly).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def auc(score, positive) -> float:
    """Mann-Whitney AUC, ties counted half."""
    score, positive = np.asarray(score, float), np.asarray(positive, bool)
    pos, neg = score[positive], score[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def masked_images(config, margin_mm: float):
    """``(x, label, patient, band share)``: display pixels in 0..1 with the band set to 0,
    downsampled 2x (the CNN's input), one row per image."""
    from engine.phantom import band_half_mm, plan_study, render_image, roi_band
    from engine.phantom._manifest import manifest_row

    specs = [s for p in plan_study(config) for s in p.images]
    images = [render_image(s) for s in specs]
    rows = [manifest_row(im, "") for im in images]
    half = band_half_mm(rows, margin_mm)
    xs, hidden = [], []
    for im, row in zip(images, rows, strict=True):
        px = im.pixels.astype(np.float32) / 4095.0
        y0, y1 = roi_band(row, half, px.shape[0])
        assert y0 <= row.roi_y0 and row.roi_y1 <= y1, "band misses the ROI"
        px[y0:y1] = 0.0
        hidden.append((y1 - y0) / px.shape[0])
        h, w = px.shape[0] // 2 * 2, px.shape[1] // 2 * 2
        xs.append(px[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))
    label = np.array([s.label == "AFF" for s in specs])
    patient = np.array([s.patient_index for s in specs])
    return np.stack(xs)[:, None], label, patient, float(np.mean(hidden))


def patient_folds(label, patient, k: int, seed: int) -> np.ndarray:
    """Fold of each image: patients dealt round-robin into ``k`` folds within each label."""
    rng = np.random.default_rng(seed)
    fold_of = {}
    for positive in (True, False):
        ids = np.unique(patient[label == positive])
        for j, pid in enumerate(rng.permutation(ids)):
            fold_of[int(pid)] = j % k
    return np.array([fold_of[int(p)] for p in patient])


def small_cnn():
    """Four conv blocks (16-32-64-64; the first one strided) and a linear head on the
    flattened 5x4 map, so absolute position (where the hip or knee is) stays visible:
    ~63 k parameters, about 8 M multiply-adds per 80x64 image, trainable in minutes
    on two cores."""
    import torch.nn as nn

    def block(cin, cout, stride=1):
        conv = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        return conv if stride > 1 else [*conv, nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, 16, 2), *block(16, 32), *block(32, 64), *block(64, 64),
                         nn.AdaptiveAvgPool2d((5, 4)), nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(64 * 5 * 4, 2))


def train_predict(x_tr, y_tr, x_te, args, seed: int) -> np.ndarray:
    import torch

    from engine.models import create_model

    torch.manual_seed(seed)
    device = torch.device(args.device)
    model = (small_cnn() if args.model == "small"
             else create_model(args.model, num_classes=2, in_chans=1)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * -(-len(x_tr) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    xt = torch.from_numpy(x_tr).to(device)
    yt = torch.from_numpy(y_tr.astype(np.int64)).to(device)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(args.epochs):
        order = torch.randperm(len(xt), generator=gen).to(device)
        for i in range(0, len(xt), args.batch):
            idx = order[i:i + args.batch]
            xb = xt[idx]
            # small random translation (2 px): shifts, not flips, keep the image's anatomy
            dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = torch.nn.functional.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    out = []
    with torch.no_grad():
        xe = torch.from_numpy(x_te).to(device)
        for i in range(0, len(xe), 128):
            out.append(torch.softmax(model(xe[i:i + 128]), dim=1)[:, 1].cpu().numpy())
    return np.concatenate(out)


def run(confounds: str, args) -> float:
    from engine.phantom import PhantomConfig

    t0 = time.perf_counter()
    config = PhantomConfig(patients=args.patients, seed=args.seed, aff_share=0.5,
                           height=args.size[0], width=args.size[1], confounds=confounds)
    x, label, patient, hidden = masked_images(config, args.margin_mm)
    t1 = time.perf_counter()
    folds = patient_folds(label, patient, args.folds, args.seed)
    oof = np.zeros(len(x))
    for f in range(args.folds):
        test = folds == f
        oof[test] = train_predict(x[~test], label[~test], x[test], args, args.seed + f)
    value = auc(oof, label)
    pids = np.unique(patient)
    p_score = [oof[patient == p].mean() for p in pids]
    p_label = [label[patient == p][0] for p in pids]
    print(f"confounds={confounds}, model {args.model}: {len(x)} images of {len(pids)} patients "
          f"({label.mean():.0%} AFF images), input {x.shape[2]}x{x.shape[3]}, band hides "
          f"{hidden:.0%} of the rows; render {t1 - t0:.0f} s, {args.folds}-fold CV "
          f"{time.perf_counter() - t1:.0f} s; OOF AUC image {value:.3f}, "
          f"patient {auc(p_score, p_label):.3f}", flush=True)
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--size", default="160x128", help="rendered HxW (the CNN sees half)")
    ap.add_argument("--margin-mm", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="small",
                    help="small (the compact CNN below, default) or a registered CNN such "
                         "as resnet10t (engine.models; several times slower on a CPU)")
    ap.add_argument("--confounds", choices=("both", "none", "realistic"), default="both")
    args = ap.parse_args()
    args.size = tuple(int(v) for v in args.size.lower().split("x"))

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    chosen = ("none", "realistic") if args.confounds == "both" else (args.confounds,)
    results = {c: run(c, args) for c in chosen}
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    for c, value in results.items():
        print(f"RESULT masked_auc_confounds_{c} {value:.3f}")
    if "none" in results and results["none"] > 0.6:
        print("FAIL: with confounds none the masked AUC must be <= 0.6", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
