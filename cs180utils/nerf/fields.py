"""The vanilla NeRF field (the course's figure), as an ``nn.Module`` following the field contract:

    forward(points (N, 3), dirs (N, 3) unit) -> (sigma (N,) >= 0, rgb (N, 3) in [0, 1])

    PE_10(x) (63) -> [Linear+ReLU] x skip -> concat PE_10(x) -> [Linear+ReLU] x (depth - skip) -> h (width)
    h -> Linear -> ReLU                                                    -> sigma
    h -> Linear -> concat PE_4(d) (27) -> Linear(width/2)+ReLU -> Linear(3) -> Sigmoid -> rgb

Any other field (``cs180utils.nerf.fast``) that follows the same contract plugs into the same sampling,
rendering, training, video and depth code. Optional hooks the training loop calls when present:
``on_train_step(step)`` before each optimizer step and ``param_groups(lr) -> list[dict]`` for Adam.
"""
from __future__ import annotations

import torch
from torch import nn

from cs180utils.encodings import PositionalEncoding


class NerfField(nn.Module):
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
