"""What a NeRF field is (:class:`Field`) and the course's vanilla field (:class:`NerfField`, the course's figure).

A field maps points and view directions to density and colour:

    forward(points (N, 3), dirs (N, 3) unit) -> (sigma (N,) >= 0, rgb (N, 3) in [0, 1])

Every field (the MLP here, the grids of ``cs180utils.nerf.fast``, the generated scene's analytic field) subclasses
:class:`Field`, so it plugs into the same sampling, rendering, training, video and depth code. :class:`Field` also
states the optional hooks and what they do when a field does not override them (nothing special).

The vanilla field:

    PE_10(x) (63) -> [Linear+ReLU] x skip -> concat PE_10(x) -> [Linear+ReLU] x (depth - skip) -> h (width)
    h -> Linear -> ReLU                                                    -> sigma
    h -> Linear -> concat PE_4(d) (27) -> Linear(width/2)+ReLU -> Linear(3) -> Sigmoid -> rgb
"""
from __future__ import annotations

import torch
from torch import nn

from cs180utils.encodings import PositionalEncoding


class Field(nn.Module):
    """The field contract: subclasses implement :meth:`forward`; the hooks below have defaults that leave the
    renderer and the training as they are (a field overrides one only to do better than that, as the fast field
    does: an occupancy grid, its own Adam groups)."""

    def forward(self, points: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (N, 3) world, dirs (N, 3) unit view directions -> sigma (N,) >= 0, rgb (N, 3) in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(points, dirs) -> (sigma, rgb)")

    # ---- sampler hooks (NeRF.render_rays / NeRF._eval) -----------------------------------------------------
    def ray_bounds(self, rays_o: torch.Tensor, rays_d: torch.Tensor, t_near: torch.Tensor, t_far: torch.Tensor,
                   hit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each ray's range to sample: rays (R, 3), ``t_near``/``t_far`` (R,) and ``hit`` (R,) bool as the
        renderer clipped them -> the same three, narrowed. Default: unchanged (sample all of [near, far])."""
        return t_near, t_far, hit

    def sample_mask(self, points: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor | None:
        """Which samples ``points`` (R, S, 3) with interval lengths ``deltas`` (R, S) the field must evaluate:
        (R, S) bool, the rest count as empty. Default None: every sample."""
        return None

    # ---- training hooks (the training loop, through NeRF) ------------------------------------------------------
    def param_groups(self, lr: float) -> list[dict]:
        """Adam parameter groups. Default: one group of all the field's parameters at ``lr``."""
        return [{"params": list(self.parameters()), "lr": lr}]

    def on_train_step(self, step: int) -> None:
        """Called after the backward pass, before the optimizer step ``step``. Default: nothing."""


class NerfField(Field):
    """NeRF MLP. ``width``/``depth`` size the trunk, ``skip`` is after how many trunk layers PE(x) is
    concatenated again, ``L_pos``/``L_dir`` are the PE frequencies of positions and view directions.

    ``scale``/``center`` map world points as ``(x - center) * scale`` before the encoding (identity by default,
    as in the course; the workbook's trainings keep the default)."""

    def __init__(self, width: int = 256, depth: int = 8, skip: int = 4, L_pos: int = 10, L_dir: int = 4,
                 center: tuple[float, float, float] = (0.0, 0.0, 0.0), scale: float = 1.0):
        super().__init__()
        if not 0 < skip < depth:
            raise ValueError(f"skip must be between 1 and depth-1 (= {depth - 1}), got {skip}")
        self.pe_x, self.pe_d = PositionalEncoding(3, L_pos), PositionalEncoding(3, L_dir)
        self.register_buffer("center", torch.tensor(center, dtype=torch.float32))
        self.scale = float(scale)
        # BEGIN SOLUTION nerf_mlp
        dx = self.pe_x.out_dim
        self.trunk = nn.ModuleList()
        for i in range(depth):
            fan_in = dx if i == 0 else width + (dx if i == skip else 0)
            self.trunk.append(nn.Linear(fan_in, width))
        self.skip = skip
        self.sigma_head = nn.Linear(width, 1)
        self.feature = nn.Linear(width, width)
        self.rgb_head = nn.Sequential(nn.Linear(width + self.pe_d.out_dim, width // 2), nn.ReLU(),
                                      nn.Linear(width // 2, 3), nn.Sigmoid())
        # END SOLUTION

    def forward(self, points: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # BEGIN SOLUTION nerf_mlp
        x = self.pe_x((points - self.center) * self.scale)  # (N, 63)
        h = x
        for i, layer in enumerate(self.trunk):
            if i == self.skip:
                h = torch.cat((h, x), dim=-1)
            h = torch.relu(layer(h))  # (N, width)
        sigma = torch.relu(self.sigma_head(h))[:, 0]  # (N,)
        rgb = self.rgb_head(torch.cat((self.feature(h), self.pe_d(dirs)), dim=-1))  # (N, 3)
        return sigma, rgb
        # END SOLUTION
