"""2-D neural field: positional encoding + MLP (the course's) vs a multiresolution grid encoding + small MLP.

    python benchmarks/field2d.py            # fox (or hopper), 3 repeats of each, the cpu presets
    python benchmarks/field2d.py --quick    # one repeat, 300 steps
    python benchmarks/field2d.py --image hopper --image-size none   # what `train field2d --profile cpu` fits

Same machine, same image, one run; each fit in its own subprocess (so peak memory is its own).  Prints time per
step, time to reach 25 dB and to reach the PE model's final PSNR, final PSNR, peak memory, and their ratios
(medians over ``--repeats`` seeds), then one JSON line.  Both sides are ``experiment.fit`` with the ``cpu``
presets of ``train field2d --encoding pe`` and ``--encoding grid`` (time cap off, ``--steps`` each), so the
ratios are those of the two commands.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def worker(args) -> dict:
    import torch
    from cs180utils.machinery.field2d import experiment

    # the cpu presets of `train field2d` (--encoding pe: the course's PE L=10 + 256 x 4 MLP; --encoding grid:
    # experiment.PRESETS["grid"], 8 levels from 16 to the image's size + a 64 x 2 MLP), without the time cap
    cfg = experiment.config("cpu", encoding=args.worker, image_size=args.image_size, steps=args.steps,
                            eval_every=args.eval_every, seed=args.seed, snapshot_steps=(), max_seconds=None)
    image, name = experiment.load(args.image, cfg, data_dir=args.data_dir)
    h, w = image.shape[:2]
    res = experiment.fit(image, cfg, device=args.device, progress=False)
    hist = res.history
    device = next(res.model.parameters()).device
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2 ** 20
    return {"image": name, "size": [h, w], "psnr": res.psnr, "seconds": res.seconds,
            "step_s": res.seconds / max(cfg.steps, 1), "history": list(zip(hist["seconds"], hist["psnr"])),
            "params": sum(p.numel() for p in res.model.parameters()), "peak_mb": peak, "device": str(device)}


def _run(kind, args, seed) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--seed", str(seed), "--steps", str(args.steps),
           "--eval-every", str(args.eval_every), "--image-size", str(args.image_size), "--image", args.image]
    for name in ("data_dir", "device"):
        if getattr(args, name):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    out = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _time_to(history, db):
    return next((s for s, p in history if p >= db), None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one repeat of 300 steps")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=2000, help="steps of each fit (course: 2000)")
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--image", default="fox", help="fox (falls back to hopper), hopper, terrain or a path")
    p.add_argument("--image-size", type=lambda t: None if t.lower() == "none" else int(t), default=512,
                   help="the image's longer side at most this many pixels ('none': as it is)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", choices=("pe", "grid"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    if args.quick:
        args.repeats, args.steps = 1, 300
    runs = {"pe": [], "grid": []}
    for r in range(args.repeats):
        for kind in runs:
            print(f"{kind} fit {r + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
            runs[kind].append(_run(kind, args, args.seed + r))
    target = statistics.median(x["psnr"] for x in runs["pe"])  # the PE model's final PSNR

    def med(kind, f):
        vals = [f(x) for x in runs[kind]]
        return None if any(v is None for v in vals) else statistics.median(vals)

    rows = {}
    for kind in runs:
        rows[kind] = {"step_s": med(kind, lambda x: x["step_s"]), "psnr": med(kind, lambda x: x["psnr"]),
                      "to_25db": med(kind, lambda x: _time_to(x["history"], 25.0)),
                      "to_pe_final": med(kind, lambda x: _time_to(x["history"], target)),
                      "peak_mb": med(kind, lambda x: x["peak_mb"]), "params": runs[kind][0]["params"]}
    pe, gr = rows["pe"], rows["grid"]
    ratio = lambda a, b: None if (a is None or b is None or b == 0) else round(a / b, 2)  # noqa: E731
    first = runs["pe"][0]
    print(f"\nimage {first['image']} {first['size']}, {args.steps} steps, device {first['device']}, "
          f"median of {args.repeats}")
    print(f"{'':26s}{'PE + MLP':>12s}{'grid + MLP':>12s}{'PE / grid':>11s}")
    for key, label in (("step_s", "time per step (s)"), ("to_25db", "time to 25 dB (s)"),
                       ("to_pe_final", f"time to {target:.1f} dB (s)"), ("psnr", "final PSNR (dB)"),
                       ("peak_mb", "peak memory (MB)"), ("params", "parameters")):
        a, b = pe[key], gr[key]
        fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
        print(f"{label:26s}{fmt(a):>12s}{fmt(b):>12s}{fmt(ratio(a, b)):>11s}")
    result = {"image": first["image"], "size": first["size"], "steps": args.steps, "repeats": args.repeats,
              "device": first["device"], "pe": pe, "grid": gr,
              "step_time_ratio": ratio(pe["step_s"], gr["step_s"]),
              "speedup_to_pe_final_psnr": ratio(pe["to_pe_final"], gr["to_pe_final"]),
              "speedup_to_25db": ratio(pe["to_25db"], gr["to_25db"])}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
