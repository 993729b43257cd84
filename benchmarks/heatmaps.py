"""Gaussian heatmap targets for one training batch: the batched generator of
``cs180utils.keypoints.heatmaps.gaussian_heatmaps`` (two 1-D Gaussians broadcast into (B, K, H, W), on the
training device) against the per-keypoint loop (a NumPy meshgrid and a 2-D exp per keypoint, the way a
per-sample Dataset makes them). Both make identical heatmaps (checked below).

    python benchmarks/heatmaps.py [--batch 32] [--size 128] [--repeats 5] [--device cpu]

Prints the medians and the ratio; the last line is JSON with ``speedup`` (loop time / batched time).
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
from cs180utils import config  # noqa: E402
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

    fast = hm.gaussian_heatmaps(kps, size, args.sigma)
    slow = hm.gaussian_heatmaps_loop(kps, size, args.sigma)
    err = float((fast - slow).abs().max())
    if err > 1e-5:
        raise SystemExit(f"batched and loop heatmaps differ by {err}")

    t_fast = median_seconds(lambda: hm.gaussian_heatmaps(kps, size, args.sigma), max(args.repeats, 5), sync)
    t_slow = median_seconds(lambda: hm.gaussian_heatmaps_loop(kps, size, args.sigma), args.repeats, sync)
    print(f"heatmaps for B={args.batch} K={args.keypoints} {args.size}x{args.size} sigma={args.sigma} on {device}",
          file=sys.stderr)
    print(f"  batched (broadcast, on device): median {t_fast * 1e3:8.2f} ms", file=sys.stderr)
    print(f"  per-keypoint loop (NumPy):      median {t_slow * 1e3:8.2f} ms", file=sys.stderr)
    print(f"  speedup {t_slow / t_fast:.0f}x   max |difference| {err:.1e}", file=sys.stderr)
    print(json.dumps({"benchmark": "heatmaps", "device": str(device), "batch": args.batch,
                      "keypoints": args.keypoints, "size": args.size, "batched_ms": round(t_fast * 1e3, 3),
                      "loop_ms": round(t_slow * 1e3, 3), "speedup": round(t_slow / t_fast, 1),
                      "max_abs_diff": err, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
