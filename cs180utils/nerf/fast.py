"""The fast NeRF field: multiresolution grids, a tiny colour MLP, and an occupancy grid that skips empty space.

Same contract as the vanilla field (``forward(points (N, 3), dirs (N, 3)) -> sigma (N,) >= 0, rgb (N, 3) in [0, 1]``),
so it plugs into the same rays, samplers, volume rendering, video and depth code (``--model fast``).

    points (N, 3) --occupancy.query--> M occupied points (M << N; the rest get sigma = 0, rgb = 0)
      -> box coordinates [0, 1]^3 -> density GridEncoding (1 feature per level), summed
      -> sigma = softplus(sum + bias) [/ step_size: density_unit 'step', the presets']  # (M,)
      -> where opacity > 1e-4: colour GridEncoding (L x F) + PE(direction)
         -> MLP (32 hidden) -> sigmoid -> rgb                                          # (C, 3)

Why this design: the course's 8x256 MLP spends ~0.6 M multiply-adds on every sample of every ray;
here a sample costs a few trilinear grid lookups plus a ~1.3 k multiply-add colour MLP (run only where the sample
is visible at all), and the visual hull from the training silhouettes, refined by the field's own density, keeps
most samples away from the network.  Density is read straight from dense grids (a sum over resolutions): the
coarse levels learn the shape within tens of steps, and ``F.grid_sample`` (PyTorch's compiled trilinear kernel)
reads dense 1-feature grids faster on a CPU than the gather a hash table needs.  Notebook 10 and
``benchmarks/nerf.py`` measure it.

The :class:`cs180utils.nerf.fields.Field` hooks it overrides: ``ray_bounds`` (each ray's range shrunk to the occupied
cells), ``sample_mask`` (early ray termination, with ``early_stop_eps``), ``param_groups(lr)`` (grid tables at a
higher learning rate, Adam eps 1e-15 as in Instant-NGP) and ``on_train_step(step)`` (occupancy refresh every
``occupancy_every`` steps after a warm-up).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cs180utils.encodings import positional_encoding
from cs180utils.grid_encoding import GridEncoding
from cs180utils.nerf.fields import Field
from cs180utils.nerf.occupancy import OccupancyGrid
from cs180utils.nerf.rendering import opacity, render_weights


@dataclass
class FastFieldConfig:
    density_levels: int = 3  # density: a sum over this many dense 1-feature grids (coarse levels learn fast)
    density_base: int = 32  # coarsest density grid (vertices per axis over the scene box)
    density_finest: int = 160  # finest density grid (about one vertex per pixel footprint at 200x200)
    n_levels: int = 3  # colour: grid resolutions from base to finest (geometric)
    features_per_level: int = 4  # colour: learned numbers per grid vertex per level
    base_resolution: int = 16  # colour: coarsest grid
    finest_resolution: int = 96  # colour: finest grid
    log2_hashmap_size: int | None = None  # None: every level dense; else hash levels finer than 2^this rows
    hidden: int = 32  # width of the colour MLP (0: a linear map)
    dir_freqs: int = 2  # PE frequencies of the view direction
    density_bias: float = -2.0  # sigma = softplus(grid sum + this) [/ step_size]: starts almost transparent
    density_unit: str = "world"  # "world": the softplus is sigma (per world unit); "step": it is the optical
                                 # thickness of one nominal sample step (sigma x step_size, DVGO's choice), so the
                                 # grids need values of a few, not of ~100, to make a surface opaque
    color_alpha_skip: float = 1e-4  # colour is computed only where a sample's opacity exceeds this
    occupancy_resolution: int = 128  # occupancy cells per axis over the scene box
    occupancy_every: int = 16  # refresh the occupancy from the field's density every this many steps
    occupancy_warmup: int = 128  # steps on the visual hull alone before density-based pruning
    occupancy_alpha: float = 0.005  # a cell stays occupied while its opacity over one sample step exceeds this
    grid_lr_scale: float = 10.0  # learning rate of the grid tables = lr x this (DVGO: 0.1 for a density grid)
    early_stop_eps: float = 0.0  # > 0: samples where the transmittance has fallen below this are dropped before
                                 # the network sees them (early ray termination + compaction); 0: off
    sample_alpha_skip: float = 0.0  # with early_stop_eps: also drop samples whose opacity is at most this
    batch_start: int | None = None  # training: rays per step at step 0, growing linearly to batch_size over
    batch_ramp_steps: int = 0       # ... this many steps (None / 0: batch_size from the start)
    early_eval_every: int = 0    # training: also validate (on val_views) every this many steps ...
    early_eval_until: int = 0    # ... up to this step, so the time to 23 dB is measured finely (0: off)

    def __post_init__(self):
        if self.density_unit not in ("world", "step"):
            raise ValueError(f"density_unit must be 'world' or 'step', got {self.density_unit!r}")


class FastField(Field):
    """Grid-based NeRF field with occupancy skipping.

    Args:
        occupancy: an :class:`OccupancyGrid` whose box ``aabb`` is also the grids' domain.
        cfg: :class:`FastFieldConfig`.
        step_size: the sampler's distance between samples (world units), used to turn density into the
            opacity that the occupancy threshold and the colour skip are stated in.
    """

    def __init__(self, occupancy: OccupancyGrid, cfg: FastFieldConfig | None = None, step_size: float = 0.01):
        super().__init__()
        self.cfg = cfg = cfg or FastFieldConfig()
        self.occupancy = occupancy
        self.register_buffer("step_size", torch.tensor(float(step_size)))  # saved: the thresholds use it
        self.density_grid = GridEncoding(3, cfg.density_levels, 1, cfg.density_base, cfg.density_finest, None)
        self.color_grid = GridEncoding(3, cfg.n_levels, cfg.features_per_level, cfg.base_resolution,
                                       cfg.finest_resolution, cfg.log2_hashmap_size)
        in_dim = self.color_grid.out_dim + 3 * (2 * cfg.dir_freqs + 1)
        if cfg.hidden > 0:
            self.color_net = nn.Sequential(nn.Linear(in_dim, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 3))
        else:
            self.color_net = nn.Linear(in_dim, 3)
        self.skip_empty = True  # False evaluates every point (for the measured ablation)
        self.last_eval_fraction = 1.0  # share of the last call's points whose density was evaluated
        self.last_color_fraction = 1.0  # share whose colour was evaluated
        self.last_keep_fraction = 1.0  # share of the last rendered samples that sample_mask kept (compaction)

    # ---- the contract -----------------------------------------------------------------------------------
    def forward(self, points: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (N, 3) world, dirs (N, 3) unit -> sigma (N,) >= 0, rgb (N, 3) in [0, 1]."""
        if points.ndim != 2 or points.shape[-1] != 3 or dirs.shape != points.shape:
            raise ValueError(f"FastField expects points and dirs of shape (N, 3), got {tuple(points.shape)} "
                             f"and {tuple(dirs.shape)}")
        n = points.shape[0]
        if self.skip_empty:
            keep = self.occupancy.query(points).nonzero()[:, 0]  # (M,) samples in occupied cells
        else:
            keep = torch.arange(n, device=points.device)
        unit = self.occupancy.normalize(points[keep])  # (M, 3) in [0, 1]^3
        sigma_m = self._sigma(unit)  # (M,)
        # colour only where the sample can be seen at all (opacity over one step above color_alpha_skip)
        alpha = opacity(sigma_m.detach(), self.step_size)  # (M,)
        lit = (alpha > self.cfg.color_alpha_skip).nonzero()[:, 0]  # (C,) indices into keep
        rgb_c = self._rgb(unit[lit], dirs[keep[lit]])  # (C, 3)
        self.last_eval_fraction = keep.numel() / max(n, 1)
        self.last_color_fraction = lit.numel() / max(n, 1)
        sigma = points.new_zeros(n).index_put((keep,), sigma_m)  # (N,) zero in empty cells
        rgb = points.new_zeros(n, 3).index_put((keep[lit],), rgb_c)  # (N, 3)
        return sigma, rgb

    @torch.no_grad()
    def sample_mask(self, points: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor | None:
        """Sampler hook (``NeRF._eval``): which of the samples ``points`` (R, S, 3) with interval lengths
        ``deltas`` (R, S) can change the rendered colour, as (R, S) bool (None: all; ``early_stop_eps`` = 0).

        One forward pass of the density grids (no gradient) over the occupied samples gives each sample's
        opacity ``alpha`` and the transmittance ``T`` in front of it; a sample is kept while ``T >=
        early_stop_eps`` (early ray termination: what lies behind adds at most ``eps`` to the colour) and
        ``alpha > sample_alpha_skip``.  The network (density with its gradient, colour) then runs on the kept
        samples only (compaction), as in Instant-NGP / nerfacc.
        """
        c = self.cfg
        if c.early_stop_eps <= 0 or not self.skip_empty:
            return None
        Rn, S = deltas.shape
        flat = points.reshape(-1, 3)
        occ = self.occupancy.query(flat).nonzero()[:, 0]  # (M,)
        sigma = points.new_zeros(Rn * S)
        sigma[occ] = self._sigma(self.occupancy.normalize(flat[occ]))
        # the course's volume rendering: T (R, S) in front of each sample, and each sample's opacity alpha
        _, T, alpha = render_weights(sigma.reshape(Rn, S), deltas)
        keep = (T >= c.early_stop_eps) & (alpha > c.sample_alpha_skip)
        self.last_keep_fraction = float(keep.float().mean())
        return keep

    def ray_bounds(self, rays_o, rays_d, t_near, t_far, hit):
        """Sampler hook (``NeRF.render_rays``): each ray's range shrunk to its occupied span (R,) x 3."""
        return self.occupancy.ray_bounds(rays_o, rays_d, t_near, t_far, hit)

    def _sigma(self, unit: torch.Tensor) -> torch.Tensor:  # (M, 3) in [0, 1]^3 -> (M,)
        s = F.softplus(self.density_grid(unit).sum(-1) + self.cfg.density_bias)
        return s / self.step_size if self.cfg.density_unit == "step" else s

    def _rgb(self, unit: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:  # (C, 3), (C, 3) -> (C, 3)
        h = torch.cat([self.color_grid(unit), positional_encoding(dirs, self.cfg.dir_freqs)], dim=-1)
        return torch.sigmoid(self.color_net(h))

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """sigma (N,) at world points (N, 3), ignoring the occupancy mask (used to refresh it)."""
        return self._sigma(self.occupancy.normalize(points))

    # ---- training hooks -----------------------------------------------------------------------------------
    def param_groups(self, lr: float) -> list[dict]:
        """Grid tables and the MLP as separate Adam groups (tables: lr x grid_lr_scale, no weight decay)."""
        # fused Adam: one kernel per tensor instead of ~10 passes over millions of grid entries
        fused = all(p.device.type in ("cpu", "cuda") for p in self.parameters())
        grids = list(self.density_grid.parameters()) + list(self.color_grid.parameters())
        return [{"params": grids, "lr": lr * self.cfg.grid_lr_scale, "eps": 1e-15, "betas": (0.9, 0.99),
                 "fused": fused},
                {"params": list(self.color_net.parameters()), "lr": lr, "eps": 1e-15, "betas": (0.9, 0.99),
                 "weight_decay": 1e-6, "fused": fused}]

    @torch.no_grad()
    def on_train_step(self, step: int) -> None:
        """Refresh the occupancy grid from the field's density (after the warm-up, every few steps)."""
        c = self.cfg
        if step >= c.occupancy_warmup and step % c.occupancy_every == 0:
            self.occupancy.update(self.density, float(self.step_size), alpha_threshold=c.occupancy_alpha)


def build_field(fcfg: FastFieldConfig | None, n_samples: int, scene=None) -> FastField:
    """The fast field of ``fcfg`` (None: the defaults) for ``n_samples`` samples per ray through a scene, whose
    silhouettes give the occupancy grid's visual hull and whose ``aabb()`` is the grid's box (both computed once
    per scene).  Without a scene (loading a checkpoint) the grid starts empty of evidence and ``load_state_dict``
    fills in the saved box, hull and mask."""
    fcfg = fcfg or FastFieldConfig()
    if scene is None:
        occupancy = OccupancyGrid(torch.tensor([[-1.0] * 3, [1.0] * 3]), fcfg.occupancy_resolution)
    else:
        occupancy = OccupancyGrid.from_silhouettes(scene.silhouettes(), scene.c2ws, scene.focal, aabb=scene.aabb(),
                                                   resolution=fcfg.occupancy_resolution)
    box = occupancy.aabb[1] - occupancy.aabb[0]
    step = float(box.norm()) / max(int(n_samples), 1)  # the longest ray through the box, over S samples
    return FastField(occupancy, fcfg, step_size=step)
