"""Per-step cost of each training at its profile's sizes (default ``full``), in float32 and in mixed precision.

    python benchmarks/steps.py --device cuda          # every model; float32 and autocast (bf16 / fp16 + scaler)
    python benchmarks/steps.py --only resnet --steps 3
    python benchmarks/steps.py --profile cpu --only resnet unet   # on a CPU: NCHW vs channels-last weights

For each model the median time of ``--steps`` optimizer steps (after one warm-up step), the GPU synchronised
around each; on CUDA also the same in the precision :func:`cs180utils.machinery.training.autocast_dtype` picks, and the
ratio. Inputs are random tensors of the profile's shapes (300-W crops, NeRF rays from the scene), so the
figures are the network's cost, not the data loading's. Ends with one JSON line. On a CPU only float32 runs
(the trainings use no mixed precision there); for the convolutional networks (resnet, unet) it also times the
weights in channels-last memory format (``torch.channels_last``, what the trainings use on a CPU:
:func:`cs180utils.machinery.training.memory_format`), each from a fresh model of the same seed, and the ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from cs180utils.machinery import config, training  # noqa: E402

MODELS = ("nerf-vanilla", "nerf-fast", "resnet", "unet")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(model, opt, step_fn, device: torch.device, precision: torch.dtype | None, steps: int) -> dict:
    """Median seconds of ``steps`` steps of ``step_fn() -> loss`` (one warm-up step first), as the training
    loop runs them: autocast in ``precision``, the float16 gradient scaler."""
    scaler = torch.amp.GradScaler(device.type) if precision == torch.float16 else None
    times = []
    for i in range(steps + 1):
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=precision or torch.float32, enabled=precision is not None):
            loss = step_fn()
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        _sync(device)
        if i:
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else None
    return {"step_s": statistics.median(times), "peak_mb": peak}


def setup(name: str, device: torch.device, data_dir=None, profile: str = "full",
          memory_format: torch.memory_format = torch.contiguous_format):
    """(model, optimizer, step_fn, what) of ``name`` at ``profile``'s sizes (convolutional networks with their
    weights in ``memory_format``)."""
    gen = torch.Generator().manual_seed(0)
    if name.startswith("nerf"):
        from cs180utils.machinery.nerf import experiment
        from cs180utils.machinery.sources import default_scene
        cfg = experiment.config(name.split("-")[1], profile, device=str(device))
        scene = experiment.prepare_scene(cfg, default_scene(None, data_dir=data_dir))
        aabb = scene.aabb() if cfg.sample_in_aabb else None
        model = experiment.build_model(cfg, scene, aabb).to(device)
        opt = torch.optim.Adam(model.param_groups(cfg.lr), lr=cfg.lr)
        images, c2ws = scene.images.to(device), scene.c2ws.to(device)

        def step():
            return experiment.ray_batch_loss(model, images, c2ws, scene.focal, cfg.batch_size, gen)[0]
        return model, opt, step, f"{cfg.batch_size} rays x {cfg.n_samples} samples"
    from cs180utils.machinery.keypoints import experiment_300w as e3
    cfg = e3.config(name, profile, device=str(device))
    s, b = cfg.crop_size, cfg.batch_size
    model = e3.build_model(cfg, torch.full((68, 2), 0.5)).to(device, memory_format=memory_format)  # mean: the centre
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    images = (torch.rand(b, 1, s, s, generator=gen) - 0.5).to(device)          # (B, 1, S, S)
    kps = (torch.rand(b, 68, 2, generator=gen) * s).to(device)                 # (B, K, 2) crop pixels

    def step():
        return e3.step_loss(model, cfg, images, kps)
    return model, opt, step, f"batch {b} of {s}x{s}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None)
    p.add_argument("--only", nargs="*", choices=MODELS, default=None)
    p.add_argument("--steps", type=int, default=5, help="timed steps per model (after one warm-up)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--profile", default="full", choices=("smoke", "cpu", "full"), help="whose sizes (default full)")
    args = p.parse_args(argv)
    device = config.pick_device(args.device)
    precision = training.gpu_settings(device)["precision"]
    rows = {}
    for name in args.only or MODELS:
        config.seed_everything(0)
        model, opt, step, what = setup(name, device, args.data_dir, args.profile)
        row = {"what": what, "float32": time_steps(model, opt, step, device, None, args.steps)}
        line = f"{name:13s} {what:28s} float32 {row['float32']['step_s'] * 1e3:9.1f} ms/step"
        if precision is not None:
            row[str(precision).replace("torch.", "")] = amp = time_steps(model, opt, step, device, precision, args.steps)
            row["speedup"] = row["float32"]["step_s"] / amp["step_s"]
            line += f"   {precision} {amp['step_s'] * 1e3:9.1f} ms/step ({row['speedup']:.2f}x)"
        if device.type == "cpu" and not name.startswith("nerf"):
            del model, opt
            config.seed_everything(0)
            model, opt, step, _ = setup(name, device, args.data_dir, args.profile, torch.channels_last)
            row["channels_last"] = cl = time_steps(model, opt, step, device, None, args.steps)
            row["channels_last_speedup"] = row["float32"]["step_s"] / cl["step_s"]
            line += f"   channels-last {cl['step_s'] * 1e3:9.1f} ms/step ({row['channels_last_speedup']:.2f}x)"
        rows[name] = row
        print(line, flush=True)
        del model, opt
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(json.dumps({"benchmark": "steps", "device": str(device), "device_name": name, "steps": args.steps,
                      "threads": torch.get_num_threads(), "profile": args.profile, "models": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
