"""Gaussian heatmap targets for one training batch, three ways, on the same machine in one run:

- loop:      one keypoint at a time, a (1, 1, H, W) map each copied into a NumPy array (the way a per-sample
             Dataset makes them; ``heatmaps.gaussian_heatmaps_loop``);
- dense:     the whole batch at once on the training device, two 1-D Gaussians broadcast into (B, K, H, W)
             (``heatmaps.gaussian_heatmaps``, what the notebooks draw);
- factored:  the same targets kept as their 1-D factors (B, K, H) and (B, K, W)
             (``heatmaps.factored_targets``), which is what training makes: the losses take the factors
             directly (``heatmap_loss`` is the same to rounding, tested), so no (B, K, H, W) target is built.

All three are checked to give the same heatmaps first.

    python benchmarks/heatmaps.py [--batch 32] [--size 128] [--repeats 5] [--device cpu]

Prints the medians and ratios; the last line is JSON with ``speedup`` (loop / factored, the targets training
uses) and ``speedup_dense`` (loop / dense).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cs180utils.machinery import config  # noqa: E402
from cs180utils.keypoints import heatmaps as hm  # noqa: E402


def median_seconds(fn, repeats: int, sync) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32, help="faces per batch (B)")
    p.add_argument("--keypoints", type=int, default=68, help="keypoints per face (K)")
    p.add_argument("--size", type=int, default=128, help="heatmap side (H = W)")
    p.add_argument("--sigma", type=float, default=2.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default=None)
    args = p.parse_args()
    device = config.pick_device(args.device)
    gen = torch.Generator().manual_seed(0)
    kps = (torch.rand(args.batch, args.keypoints, 2, generator=gen) * args.size).to(device)   # (B, K, 2)
    size = (args.size, args.size)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    dense = hm.gaussian_heatmaps(kps, size, args.sigma)
    slow = hm.gaussian_heatmaps_loop(kps, size, args.sigma)
    fact = hm.factored_targets(kps, size, "gaussian", args.sigma)
    err = max(float((dense - slow).abs().max()), float((fact.dense() - slow).abs().max()))
    if err > 1e-5:
        raise SystemExit(f"batched and loop heatmaps differ by {err}")
    del dense, slow, fact

    reps = max(args.repeats, 5)
    t_fact = median_seconds(lambda: hm.factored_targets(kps, size, "gaussian", args.sigma), 5 * reps, sync)
    t_dense = median_seconds(lambda: hm.gaussian_heatmaps(kps, size, args.sigma), reps, sync)
    t_loop = median_seconds(lambda: hm.gaussian_heatmaps_loop(kps, size, args.sigma), args.repeats, sync)
    print(f"heatmaps for B={args.batch} K={args.keypoints} {args.size}x{args.size} sigma={args.sigma} on {device}, "
          f"{torch.get_num_threads()} threads", file=sys.stderr)
    print(f"  per-keypoint loop:                  median {t_loop * 1e3:9.3f} ms", file=sys.stderr)
    print(f"  dense, batched on device:           median {t_dense * 1e3:9.3f} ms   ({t_loop / t_dense:.0f}x)",
          file=sys.stderr)
    print(f"  factored, batched (what training uses): median {t_fact * 1e3:9.3f} ms   ({t_loop / t_fact:.0f}x)",
          file=sys.stderr)
    print(json.dumps({"benchmark": "heatmaps", "device": str(device), "batch": args.batch,
                      "keypoints": args.keypoints, "size": args.size, "loop_ms": round(t_loop * 1e3, 3),
                      "dense_ms": round(t_dense * 1e3, 3), "factored_ms": round(t_fact * 1e3, 4),
                      "speedup": round(t_loop / t_fact, 1), "speedup_dense": round(t_loop / t_dense, 1),
                      "max_abs_diff": err, "threads": torch.get_num_threads()}))

if __name__ == "__main__":
    main()
