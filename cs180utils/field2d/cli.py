"""``python -m cs180utils train field2d``: fit a neural field to an image, headless.

    python -m cs180utils train field2d [--image hopper|fox|terrain|PATH] [--L 10] [--width 256] [--depth 4]
        [--steps N] [--batch 10000] [--lr 1e-2] [--max-side N] [--profile smoke|cpu|full] [--out DIR]

Unset options come from the profile (``PROFILE_DEFAULTS``). The run checkpoints into ``--out`` (default
``runs/field2d/<image>_L<L>_D<width>_<steps>``) and resumes from there when re-run; it writes
``final.png``, ``snapshots.png`` (renders during training and the PSNR curve) and ``history.json``.
Last stdout line: JSON with ``psnr`` (whole image, final model) and ``seconds`` (wall time of this call).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cs180utils import config

# profile -> defaults for the options left unset (the course's settings are the `full` ones)
PROFILE_DEFAULTS = {
    "smoke": dict(max_side=64, L=10, width=64, depth=4, steps=100, batch=2048, lr=1e-2, eval_every=50),
    "cpu": dict(max_side=None, L=10, width=256, depth=4, steps=800, batch=10_000, lr=1e-2, eval_every=200),
    "full": dict(max_side=None, L=10, width=256, depth=4, steps=3000, batch=10_000, lr=1e-2, eval_every=100),
}


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    g = parser.add_argument_group("field2d")
    g.add_argument("--image", default="hopper",
                   help="hopper (matplotlib's grace_hopper.jpg, default), fox (the course's photo; falls back to "
                        "hopper with a notice), terrain, or a path to a jpg/png")
    g.add_argument("--max-side", type=int, default=None, help="downscale so the longer side is at most this")
    g.add_argument("--L", type=int, default=None, help="positional-encoding frequencies (course: 10)")
    g.add_argument("--width", type=int, default=None, help="MLP hidden width D (course: 256)")
    g.add_argument("--depth", type=int, default=None, help="Linear layers in the MLP (course: 4)")
    g.add_argument("--steps", type=int, default=None, help="training steps (raise it on a re-run to train on)")
    g.add_argument("--batch", type=int, default=None, help="pixels per step (course: 10000)")
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate (course: 1e-2)")
    g.add_argument("--eval-every", type=int, default=None, help="full-image PSNR every N steps")
    g.add_argument("--float64", action="store_true", help="train in float64 (see notebook 01 on precision)")


def settings(args: argparse.Namespace) -> dict:
    """The profile's defaults overridden by the options given."""
    s = dict(PROFILE_DEFAULTS[config.get_profile(args.profile)])
    for k in s:
        v = getattr(args, k, None)
        if v is not None:
            s[k] = v
    return s


def run(args: argparse.Namespace, command: str) -> dict:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from PIL import Image  # noqa: PLC0415

    from cs180utils.field2d import plots  # noqa: PLC0415
    from cs180utils.field2d.images import load_image  # noqa: PLC0415
    from cs180utils.field2d.train import FitConfig, fit_image  # noqa: PLC0415

    t0 = time.perf_counter()
    profile = config.get_profile(args.profile)
    s = settings(args)
    image, name = load_image(args.image, max_side=s["max_side"], data_dir=args.data_dir)
    cfg = FitConfig(L=s["L"], width=s["width"], depth=s["depth"], steps=s["steps"], batch=s["batch"], lr=s["lr"],
                    eval_every=s["eval_every"], seed=args.seed, dtype="float64" if args.float64 else "float32",
                    snapshot_steps=tuple(x for x in (0, 100, 500, 1000, 2000, 5000) if x < s["steps"])
                    + (s["steps"],))
    out = Path(args.out) if args.out else config.runs_dir("field2d") / f"{name}_L{cfg.L}_D{cfg.width}_{cfg.depth}"
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    resumed_from = 0
    if ckpt.exists():
        from cs180utils.checkpoint import load_checkpoint  # noqa: PLC0415

        resumed_from = int(load_checkpoint(ckpt).get("step", 0))
    device = config.pick_device(args.device)
    result = fit_image(image, cfg, device=device, checkpoint=ckpt, checkpoint_every=max(cfg.eval_every, 100))

    Image.fromarray(result.final).save(out / "final.png")
    fig = plots.snapshot_strip(result.snapshots, result.history, title=f"{name}: L={cfg.L}, D={cfg.width}")
    fig.savefig(out / "snapshots.png", dpi=100, bbox_inches="tight")
    (out / "history.json").write_text(json.dumps({"config": cfg.key(), **result.history}, indent=1))
    h, w = image.shape[:2]
    return {"command": command, "profile": profile, "device": str(device), "image": name, "H": h, "W": w,
            "L": cfg.L, "width": cfg.width, "depth": cfg.depth, "steps": cfg.steps, "batch": cfg.batch, "lr": cfg.lr,
            "psnr": round(result.psnr, 3), "train_seconds": round(result.seconds, 2),
            "ms_per_step": round(1000 * result.seconds / max(cfg.steps, 1), 2), "resumed_from_step": resumed_from,
            "out": str(out), "seconds": round(time.perf_counter() - t0, 2)}
