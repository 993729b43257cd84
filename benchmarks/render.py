"""NeRF rendering with and without early ray termination (``RenderSettings.stop_transmittance``).

    python benchmarks/render.py                       # a vanilla model trained here (cpu preset, 200 steps)
    python benchmarks/render.py --checkpoint CKPT     # a trained run's checkpoint (e.g. notebook 03's)
    python benchmarks/render.py --scene lego --size 200 --repeats 5

Renders the same validation views with every sample evaluated (``stop_transmittance=0``) and with the default
(rays stop once their transmittance is below 1e-4), alternating, and prints the median seconds per view of
each, their ratio, the share of samples the field evaluated and the largest difference of any pixel, then one
JSON line. Without ``--checkpoint`` the vanilla model is trained first (the cpu preset for ``--train-steps``
steps, kept under ``runs/nerf/`` like any run, so a second call only renders); an untrained field would be
almost transparent and stop nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="a trained NeRF checkpoint (default: train the vanilla cpu preset here)")
    p.add_argument("--scene", default=None, help="scene name or .npz (default: lego if found, else generated)")
    p.add_argument("--size", type=int, default=200, help="rendered image size (square)")
    p.add_argument("--views", type=int, default=2, help="validation views rendered per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()

    import torch
    from cs180utils.machinery import config
    from cs180utils.machinery.nerf import experiment
    from cs180utils.machinery.sources import default_scene
    from cs180utils.nerf.scene import load_scene

    if args.threads:
        torch.set_num_threads(args.threads)
    scene = load_scene(args.scene) if args.scene else default_scene()
    if args.checkpoint:
        ckpt = args.checkpoint
    else:
        cfg = experiment.config("vanilla", "cpu", steps=args.train_steps, max_seconds=None, eval_every=0)
        ckpt = experiment.train(cfg, scene, progress=False)["checkpoint"]
    model, _, _ = experiment.load_trained(ckpt)
    focal = scene.focal * args.size / scene.W
    views = scene.c2ws_val[:args.views]

    counted = {"samples": 0}
    forward = model.field.forward

    def counting(pts, dirs):
        counted["samples"] += len(pts)
        return forward(pts, dirs)

    model.field.forward = counting
    times: dict[float, list[float]] = {0.0: [], 1e-4: []}
    samples: dict[float, int] = {}
    images: dict[float, list[torch.Tensor]] = {}
    for _ in range(args.repeats):
        for stop in times:                     # alternating, so a change of machine load hits both alike
            model.settings.stop_transmittance = stop
            counted["samples"] = 0
            t0 = time.perf_counter()
            outs = [model.render_image(c2w, focal, args.size, args.size) for c2w in views]
            times[stop].append((time.perf_counter() - t0) / len(views))
            samples[stop] = counted["samples"]
            images[stop] = outs
    diff = max(float((a[k] - b[k]).abs().max()) for a, b in zip(images[1e-4], images[0.0]) for k in ("rgb", "acc"))
    med = {stop: statistics.median(ts) for stop, ts in times.items()}
    print(f"{config.describe()}; model {ckpt}; {len(views)} views at {args.size}^2, {args.repeats} repeats")
    print(f"every sample:        {med[0.0]:.3f} s per view")
    print(f"early termination:   {med[1e-4]:.3f} s per view, {samples[1e-4] / samples[0.0]:.1%} of the samples")
    print(f"speed-up {med[0.0] / med[1e-4]:.2f}x; largest change of any pixel (rgb, opacity) {diff:.1e}")
    print(json.dumps({"benchmark": "render", "scene": scene.name, "size": args.size, "views": len(views),
                      "seconds_per_view_all": round(med[0.0], 4), "seconds_per_view_stop": round(med[1e-4], 4),
                      "speedup": round(med[0.0] / med[1e-4], 3),
                      "sample_fraction": round(samples[1e-4] / samples[0.0], 4), "max_abs_diff": diff}))


if __name__ == "__main__":
    main()
