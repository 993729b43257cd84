"""Figures of notebook 01 and ``train field2d``: render strips, PSNR curves, the L x D grid, the write-up's sweep."""
from __future__ import annotations

import numpy as np


def snapshot_strip(snapshots: dict[int, np.ndarray], history: dict[str, list], title: str = "",
                   target: np.ndarray | None = None):
    """Renders at several steps (a strip, as in the course) and the full-image PSNR curve; returns the figure."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    steps = sorted(snapshots)
    n = len(steps) + (target is not None) + 1
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.0), gridspec_kw={"width_ratios": [1] * (n - 1) + [1.6]})
    for ax, s in zip(axes, steps):
        ax.imshow(snapshots[s])
        ax.set_title("init" if s == 0 else f"step {s}", fontsize=9)
        ax.axis("off")
    if target is not None:
        axes[n - 2].imshow(target)
        axes[n - 2].set_title("target", fontsize=9)
        axes[n - 2].axis("off")
    ax = axes[-1]
    ax.plot(history["step"], history["psnr"], "o-", ms=3, label="whole image")
    if history.get("train_psnr"):
        ax.plot(history["step"], history["train_psnr"], "--", lw=1, label="train batches")
    ax.set_xlabel("step")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def grid_figure(results: dict, Ls, widths, title: str = ""):
    """``results[(L, D)]`` (anything with ``.final`` and ``.psnr``) as a table of renders: rows L, columns D."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(len(Ls), len(widths), figsize=(2.3 * len(widths), 2.5 * len(Ls)), squeeze=False)
    for i, L in enumerate(Ls):
        for j, D in enumerate(widths):
            r, ax = results[(L, D)], axes[i][j]
            ax.imshow(r.final)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"L={L} D={D}: {r.psnr:.1f} dB", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"L = {L}")
            if i == len(Ls) - 1:
                ax.set_xlabel(f"D = {D}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sweep_figure(results: dict, sweep, title: str = ""):
    """The write-up's sweep scored both ways: PSNR on the seen and on the unseen pixels against L (at
    ``sweep.L_width``) and against D (at ``sweep.widths_L``), linear interpolation as the reference.
    ``results[(L, D)]``: anything with ``.train_psnr``, ``.heldout_psnr`` and ``.linear_psnr``."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True, layout="constrained")
    lines = ((axes[0], list(sweep.Ls), [(L, sweep.L_width) for L in sweep.Ls], f"L  (D = {sweep.L_width})"),
             (axes[1], list(sweep.widths), [(sweep.widths_L, D) for D in sweep.widths], f"D  (L = {sweep.widths_L})"))
    for ax, xs, keys, xlabel in lines:
        ax.plot(xs, [results[k].train_psnr for k in keys], "o-", label="seen pixels (the write-up's number)")
        ax.plot(xs, [results[k].heldout_psnr for k in keys], "s-", label="unseen pixels (in between)")
        ax.axhline(results[keys[0]].linear_psnr, color="gray", ls=":", label="linear interpolation, unseen")
        ax.set_xticks(xs)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSNR (dB)")
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
