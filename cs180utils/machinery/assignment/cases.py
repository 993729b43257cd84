"""The questions' checks: what ``check("volrend")`` runs and what the autograder scores.

A check (a :class:`Case`) has two halves, kept apart on purpose:

- ``probe(seed)`` calls the course's functions (the student's, in the student edition) on inputs made from
  ``seed`` and returns their outputs (tensors, numbers, strings, lists). It is the only half that runs student
  code. It uses nothing else the student writes: where a question's function needs another question's
  function, the autograder puts the course's reference version of that one beside it.
- ``expect(out)`` says, in plain words, what is wrong with the outputs (hand-checkable numbers: PE at x = 0,
  the course's volume-rendering check, a planted peak found again); it raises :class:`Failed`.

The autograder runs the probes of one question in a separate, limited process (``sandbox``) with a seed drawn
at grading time, and judges the outputs in a process that never imports student code: a case passes when
``expect`` finds nothing wrong and, unless ``compare`` is off, the outputs equal the reference solution's on
the same seed. ``check()`` in a notebook runs the public probes in the notebook's own process (a few seconds)
with ``expect`` only, since the student edition holds no reference.

Public cases ship in the student edition; the ones between ``BEGIN HIDDEN`` and ``END HIDDEN`` do not.
"""
from __future__ import annotations

import importlib
import math
import zlib
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


class Failed(AssertionError):
    """A check that found a wrong output; the message says which input, what was expected, what came."""


@dataclass(frozen=True)
class Case:
    qid: str                                            # the question
    name: str                                           # the check, in words (unique within the question)
    probe: Callable[[int], dict]                        # seed -> outputs of the course's functions
    expect: Callable[..., None] | None = None           # (outputs[, seed]) -> None, or raise Failed (plain words)
    hidden: bool = False
    compare: bool = True                                # graded outputs must equal the reference's
    atol: float = 1e-4


CASES: list[Case] = []


def case(qid: str, name: str, hidden: bool = False, compare: bool = True, atol: float = 1e-4):
    """Register ``probe`` (and, with ``@<probe>.expect``-style pairing below, its expectation)."""
    def wrap(probe):
        CASES.append(Case(qid, name, probe, getattr(probe, "_expect", None), hidden, compare, atol))
        return probe
    return wrap


def expecting(fn: Callable[[dict], None]):
    """Decorator under ``@case``: attach the expectation ``fn`` to the probe."""
    def wrap(probe):
        probe._expect = fn
        return probe
    return wrap


def cases(qid: str | None = None, hidden: bool | None = None) -> list[Case]:
    return [c for c in CASES if (qid is None or c.qid == qid) and (hidden is None or c.hidden == hidden)]


# ---- helpers: modules, inputs, plain-words comparisons -------------------------------------------------------

def mod(name: str):
    """A course module, looked up at call time (so a reloaded one is used)."""
    return importlib.import_module(name)


def gen(seed: int, salt: str = "") -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(salt.encode())) % (2 ** 63))


def rand(seed: int, salt: str, *shape, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen(seed, salt))


@torch.no_grad()
def fill(module: nn.Module, seed: int) -> nn.Module:
    """Give every parameter and buffer of ``module`` values drawn from ``seed`` and its name, so that two
    modules with the same layout compute the same function (variances stay positive)."""
    for name, p in list(module.named_parameters()) + list(module.named_buffers()):
        if not p.is_floating_point():
            continue
        g = gen(seed, name)
        fan_in = p[0].numel() if p.ndim > 1 else max(p.numel(), 1)
        v = (torch.rand(p.shape, generator=g) * 2 - 1) * (1.5 / math.sqrt(fan_in))
        if name.endswith("running_var"):
            v = 0.5 + v.abs()
        p.copy_(v)
    return module.eval()


def layout(module: nn.Module) -> list[str]:
    """``name: Type`` of every submodule, then ``name shape`` of every parameter and buffer."""
    mods = [f"{n or '(top)'}: {type(m).__name__}" for n, m in module.named_modules() if n]
    params = [f"{n} {tuple(p.shape)}" for n, p in module.state_dict().items()]
    return mods + params


def fmt(x) -> str:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.numel() > 12:
            return f"a tensor of shape {tuple(x.shape)}"
        return str([round(v, 4) for v in x.flatten().tolist()]) + (f" (shape {tuple(x.shape)})" if x.ndim > 1 else "")
    return repr(x)


def shape(got: torch.Tensor, want: tuple, what: str) -> None:
    if not isinstance(got, torch.Tensor):
        raise Failed(f"{what}: expected a tensor of shape {want}, got {type(got).__name__}")
    if tuple(got.shape) != tuple(want):
        raise Failed(f"{what}: expected shape {tuple(want)}, got {tuple(got.shape)}")


def near(got, want, what: str, atol: float = 1e-4) -> None:
    """``got`` equals ``want`` within ``atol``; else Failed naming ``what``, the expected and the got values."""
    want = torch.as_tensor(want, dtype=torch.float64)
    if not isinstance(got, torch.Tensor):
        raise Failed(f"{what}: expected a tensor, got {type(got).__name__}")
    got = got.detach().to(torch.float64).cpu()
    if got.shape != want.shape:
        raise Failed(f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
    if not torch.isfinite(got).all():
        raise Failed(f"{what}: the output holds NaN or inf: {fmt(got)}")
    if not torch.allclose(got, want, rtol=0, atol=atol):
        raise Failed(f"{what}: expected {fmt(want)}, got {fmt(got)}")


def equal_list(got, want: list, what: str) -> None:
    if list(got) != list(want):
        missing = [w for w in want if w not in got][:3]
        extra = [g for g in got if g not in want][:3]
        raise Failed(f"{what}: expected {want}, got {list(got)}"
                     + (f" (missing {missing}" if missing else "") + (f"; unexpected {extra})" if extra else
                                                                         (")" if missing else "")))


# ---- pe: the positional encoding (notebook 01) ---------------------------------------------------------------

def _pe_zero(out):
    near(out["pe"], [[0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]], "PE of x = 0 with L = 3 (d = 1): [x, sin, cos, ...]")


@case("pe", "PE at x = 0: x, then every sine 0 and every cosine 1")
@expecting(_pe_zero)
def _(seed):
    return {"pe": mod("cs180utils.encodings").positional_encoding(torch.zeros(1, 1), 3)}


def _pe_quarter(out):
    s = math.sqrt(0.5)
    near(out["one"], [[0.25, s, s, 1.0, 0.0]], "PE of x = 0.25 with L = 2: [x, sin(pi x), cos(pi x), sin(2 pi x), "
         "cos(2 pi x)]")
    near(out["two"], [[0.25, 0.5, s, 1.0, s, 0.0, 1.0, 0.0, 0.0, -1.0]],
         "PE of (0.25, 0.5) with L = 2: layout [x (2), sin(f0 x) (2), cos(f0 x) (2), sin(f1 x) (2), cos(f1 x) (2)]")


@case("pe", "PE of x = 0.25 by hand, and its layout for 2-D inputs")
@expecting(_pe_quarter)
def _(seed):
    pe = mod("cs180utils.encodings").positional_encoding
    return {"one": pe(torch.tensor([[0.25]]), 2), "two": pe(torch.tensor([[0.25, 0.5]]), 2)}


def _pe_noinput(out):
    shape(out["pe"], (4, 3, 12), "PE of (4, 3, 3) inputs with L = 2 and include_input=False")


@case("pe", "include_input=False leaves out the raw x; leading axes are kept")
@expecting(_pe_noinput)
def _(seed):
    return {"pe": mod("cs180utils.encodings").positional_encoding(rand(seed, "x", 4, 3, 3), 2, include_input=False)}


# ---- field_mlp: the 2-D field's MLP (notebook 01) ------------------------------------------------------------

class _Identity(nn.Module):
    out_dim = 2

    def forward(self, x):
        return x


def _mlp_layout(out):
    equal_list(out["layout"], ["0: Linear", "1: ReLU", "2: Linear", "3: ReLU", "4: Linear",
                               "0.weight (8, 4)", "0.bias (8,)", "2.weight (8, 8)", "2.bias (8,)",
                               "4.weight (2, 8)", "4.bias (2,)"],
               "mlp(in_dim=4, width=8, depth=3, out_dim=2): its layers")


@case("field_mlp", "mlp(4, 8, 3, 2) is Linear, ReLU, Linear, ReLU, Linear")
@expecting(_mlp_layout)
def _(seed):
    return {"layout": layout(mod("cs180utils.field2d.model").mlp(4, 8, 3, 2))}


def _field_sigmoid(out):
    near(out["rgb"], [[0.5, 0.75, 0.25]] * 3, "NeuralField2D with an MLP of zero weights and output bias "
         "(0, ln 3, -ln 3): every colour is sigmoid(bias)")


@case("field_mlp", "NeuralField2D.forward ends with a sigmoid")
@expecting(_field_sigmoid)
def _(seed):
    model = mod("cs180utils.field2d.model").NeuralField2D(encoding=_Identity(), width=8, depth=2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        last.bias.copy_(torch.tensor([0.0, math.log(3.0), -math.log(3.0)]))
        return {"rgb": model(rand(seed, "uv", 3, 2))}


# ---- pixel_to_camera: K and pixel -> camera (notebook 02) ----------------------------------------------------

def _k(out):
    near(out["K"], [[100.0, 0.0, 30.0], [0.0, 100.0, 20.0], [0.0, 0.0, 1.0]], "intrinsics(focal=100, H=40, W=60)")


@case("pixel_to_camera", "K for focal 100 and a 60 x 40 image")
@expecting(_k)
def _(seed):
    return {"K": mod("cs180utils.nerf.rays").intrinsics(100.0, 40, 60)}


def _p2c(out):
    near(out["centre"], [0.0, 0.0, 2.0], "pixel_to_camera of the principal point (30, 20) at depth s = 2")
    near(out["right"], [[1.0, 0.0, 1.0], [0.0, -0.5, 1.0]], "pixel_to_camera of pixels (130, 20) and (30, -30) "
         "at depth 1 (focal 100)")
    near(out["depths"], [[1.0, 0.0, 1.0], [0.0, -1.5, 3.0]], "pixel_to_camera of the same pixels at depths s = "
         "(1, 3), a tensor")


@case("pixel_to_camera", "pixels to camera points at depth s, by hand")
@expecting(_p2c)
def _(seed):
    r = mod("cs180utils.nerf.rays")
    K = torch.tensor([[100.0, 0.0, 30.0], [0.0, 100.0, 20.0], [0.0, 0.0, 1.0]])
    uv = torch.tensor([[130.0, 20.0], [30.0, -30.0]])
    return {"centre": r.pixel_to_camera(K, torch.tensor([30.0, 20.0]), 2.0), "right": r.pixel_to_camera(K, uv, 1.0),
            "depths": r.pixel_to_camera(K, uv, torch.tensor([1.0, 3.0]))}


# ---- camera_to_world ------------------------------------------------------------------------------------------

def _c2w_quarter() -> torch.Tensor:
    c2w = torch.eye(4)
    c2w[:3, :3] = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])   # 90 degrees about z
    c2w[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    return c2w


def _c2w(out):
    near(out["x"], [[1.0, 3.0, 3.0], [-1.0, 2.0, 4.0]], "transform(c2w, x) with R = 90 degrees about z and "
         "t = (1, 2, 3), for x = (1, 0, 0) and (0, 2, 1)")
    near(out["batched"], [[1.0, 3.0, 3.0], [1.0, 0.0, 0.0]], "transform over a batch of two cameras (that one and "
         "the identity) with x = (1, 0, 0) each")


@case("camera_to_world", "x_w = R x_c + t, by hand, and batched over cameras")
@expecting(_c2w)
def _(seed):
    t = mod("cs180utils.nerf.rays").transform
    c2w = _c2w_quarter()
    return {"x": t(c2w, torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0]])),
            "batched": t(torch.stack([c2w, torch.eye(4)]), torch.tensor([[1.0, 0.0, 0.0]] * 2))}


# ---- pixel_to_ray ---------------------------------------------------------------------------------------------

def _ray(out):
    near(out["o"], [1.0, 2.0, 3.0], "rays_o of a camera at (1, 2, 3): its centre")
    near(out["d"], [0.0, 0.0, 1.0], "rays_d through the principal point: the camera's z axis, here world z")
    s = math.sqrt(0.5)
    near(out["d_off"], [0.0, s, s], "rays_d through pixel (130, 20) (focal 100): camera (1, 0, 1) turned 90 "
         "degrees about z, normalised")


@case("pixel_to_ray", "rays through the principal point and beside it, by hand")
@expecting(_ray)
def _(seed):
    r = mod("cs180utils.nerf.rays")
    K = torch.tensor([[100.0, 0.0, 30.0], [0.0, 100.0, 20.0], [0.0, 0.0, 1.0]])
    o, d = r.pixel_to_ray(K, _c2w_quarter(), torch.tensor([30.0, 20.0]))
    _, d2 = r.pixel_to_ray(K, _c2w_quarter(), torch.tensor([130.0, 20.0]))
    return {"o": o, "d": d, "d_off": d2}


# ---- pixel_centres --------------------------------------------------------------------------------------------

def _grid(out):
    near(out["grid"], [[[0.5, 0.5], [1.5, 0.5], [2.5, 0.5]], [[0.5, 1.5], [1.5, 1.5], [2.5, 1.5]]],
         "pixel_grid(H=2, W=3): (u, v) = (column + 0.5, row + 0.5)")


@case("pixel_centres", "pixel_grid gives the pixel centres as (u, v)")
@expecting(_grid)
def _(seed):
    return {"grid": mod("cs180utils.nerf.rays").pixel_grid(2, 3)}


_RR = dict(B=2, H=5, W=7, focal=10.0)


def _random_rays(out, seed):
    H, W, f = _RR["H"], _RR["W"], _RR["focal"]
    o, d, colours = out["o"], out["d"], out["colours"]
    shape(colours, (32, 3), "random_rays(images (2, 5, 7, 3), n=32): the colours")
    shape(o, (32, 3), "random_rays: rays_o")
    c2ws = torch.stack([torch.eye(4), _c2w_quarter()]).to(o.dtype)
    K = torch.tensor([[f, 0.0, W / 2], [0.0, f, H / 2], [0.0, 0.0, 1.0]], dtype=o.dtype)
    for oi, di, ci in zip(o, d, colours):   # where the ray crosses the image plane of the camera it starts from
        cam = c2ws[0] if torch.allclose(oi, c2ws[0, :3, 3]) else c2ws[1]
        p = K @ torch.linalg.solve(cam[:3, :3], (oi + di) - cam[:3, 3])
        uv = p[:2] / p[2]
        if not torch.allclose(uv - ci[:2], torch.full((2,), 0.5, dtype=uv.dtype), atol=1e-3):
            raise Failed(f"a ray of random_rays crosses the image at (u, v) = {fmt(uv)}, but the colour it returns is "
                         f"that of the pixel in column {int(ci[0])}, row {int(ci[1])} (each pixel's colour here is "
                         f"its (column, row)): the ray must go through the centre of the pixel it samples")


@case("pixel_centres", "random_rays goes through the centre of the pixel whose colour it returns", compare=False)
@expecting(_random_rays)
def _(seed):
    r = mod("cs180utils.nerf.rays")
    H, W = _RR["H"], _RR["W"]
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    img = torch.stack([cols, rows, torch.zeros(H, W)], dim=-1).float()   # each pixel's colour: (column, row)
    c2ws = torch.stack([torch.eye(4), _c2w_quarter()])
    o, d, colours = r.random_rays(torch.stack([img, img]), c2ws, _RR["focal"], 32, generator=gen(seed, "rays"))
    return {"o": o, "d": d, "colours": colours}


# ---- sampling -------------------------------------------------------------------------------------------------

def _strat(out):
    near(out["t"], [[2.0, 3.0, 4.0, 5.0]], "stratified_t(near=2, far=6, 4 samples, 1 ray) without perturbation: "
         "the start of each of 4 equal bins")
    near(out["again"], out["t2"], "two calls without perturbation (they must not be random)")
    near(out["points"], [[[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]], [[3.0, 1.0, 1.0], [4.0, 1.0, 1.0]]],
         "points_along(o = (0, 0, 0) and (1, 1, 1), d = (0, 0, 1) and (1, 0, 0), t = (1, 2) and (2, 3))")


@case("sampling", "samples at the bins' starts, and points o + t d")
@expecting(_strat)
def _(seed):
    s = mod("cs180utils.nerf.samplers")
    o = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    return {"t": s.stratified_t(2.0, 6.0, 4, 1), "t2": s.stratified_t(2.0, 6.0, 8, 3),
            "again": s.stratified_t(2.0, 6.0, 8, 3),
            "points": s.points_along(o, d, torch.tensor([[1.0, 2.0], [2.0, 3.0]]))}


def _perturb(out):
    t = out["t"]
    shape(t, (64, 8), "stratified_t(2, 6, 8 samples, 64 rays, perturb=True)")
    start = 2.0 + 0.5 * torch.arange(8.0)
    inside = (t >= start - 1e-6) & (t < start + 0.5 + 1e-6)
    if not inside.all():
        raise Failed(f"with perturb=True each sample must stay inside its own bin [2 + 0.5 i, 2 + 0.5 (i + 1)); "
                     f"{int((~inside).sum())} of 512 samples are outside (first row: {fmt(t[0])})")
    if (t - start).abs().max() < 1e-4 or (t[0] - t[1]).abs().max() < 1e-6:
        raise Failed("with perturb=True the samples must move inside their bins, differently on each ray; they did "
                     f"not move (first rows: {fmt(t[0])}, {fmt(t[1])})")


@case("sampling", "with perturb=True every sample moves inside its own bin", compare=False)
@expecting(_perturb)
def _(seed):
    return {"t": mod("cs180utils.nerf.samplers").stratified_t(2.0, 6.0, 8, 64, perturb=True,
                                                              generator=gen(seed, "jitter"))}


# ---- volrend ----------------------------------------------------------------------------------------------------

def _course(out):
    near(out["rgb"][0], [0.5006, 0.3728, 0.4728], "the course's check: volrend(sigmas, rgbs, 4/64) after "
         "torch.manual_seed(42), first ray")


@case("volrend", "the course's volume-rendering check")
@expecting(_course)
def _(seed):
    torch.manual_seed(42)
    sigmas, rgbs = torch.rand((10, 64, 1)), torch.rand((10, 64, 3))
    return {"rgb": mod("cs180utils.nerf.rendering").volrend(sigmas, rgbs, 4.0 / 64)}


def _weights(out):
    near(out["alpha"], [[0.5, 0.5, 0.0]], "alpha for sigma = (ln 2, ln 2, 0), delta = 1: 1 - exp(-sigma delta)")
    near(out["T"], [[1.0, 0.5, 0.25]], "T for the same ray: exp(-sum of sigma delta over the samples before "
         "this one), so T_1 = 1")
    near(out["w"], [[0.5, 0.25, 0.0]], "weights for the same ray: T alpha")


@case("volrend", "alpha, T and the weights of a three-sample ray, by hand")
@expecting(_weights)
def _(seed):
    ln2 = math.log(2.0)
    w, T, alpha = mod("cs180utils.nerf.rendering").render_weights(torch.tensor([[ln2, ln2, 0.0]]), torch.ones(1, 3))
    return {"w": w, "T": T, "alpha": alpha}


def _composite(out):
    near(out["rgb"], [[0.5, 0.25, 0.0]], "composite: weights (0.5, 0.25), colours red and green, no background")
    near(out["acc"], [0.75], "composite's acc: the sum of the weights")
    near(out["rgb_bg"], [[0.75, 0.5, 0.25]], "the same with a white background: rgb + (1 - acc) * background")


@case("volrend", "composite: colours weighted, the background where the ray is not stopped")
@expecting(_composite)
def _(seed):
    c = mod("cs180utils.nerf.rendering").composite
    w = torch.tensor([[0.5, 0.25]])
    rgbs = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    out, bg = c(w, rgbs), c(w, rgbs, background=1.0)
    return {"rgb": out["rgb"], "acc": out["acc"], "rgb_bg": bg["rgb"]}


# ---- depth ------------------------------------------------------------------------------------------------------

def _depth(out):
    near(out["opaque"], [4.0], "depth of a ray whose weight is all on its sample at t = 4")
    near(out["split"], [2.0], "depth with weights (0.5, 0.25) at t = (2, 4): sum of w t")


@case("depth", "expected depth, by hand")
@expecting(_depth)
def _(seed):
    c = mod("cs180utils.nerf.rendering").composite
    rgbs = torch.zeros(1, 3, 3)
    one = c(torch.tensor([[0.0, 1.0, 0.0]]), rgbs, torch.tensor([[2.0, 4.0, 6.0]]))
    two = c(torch.tensor([[0.5, 0.25]]), rgbs[:, :2], torch.tensor([[2.0, 4.0]]))
    return {"opaque": one["depth"], "split": two["depth"]}


# ---- nerf_mlp ---------------------------------------------------------------------------------------------------

def _nerf_layout(out):
    want = ["trunk.0.weight (16, 15)", "trunk.1.weight (16, 16)", "trunk.2.weight (16, 31)", "trunk.3.weight (16, 16)",
            "sigma_head.weight (1, 16)", "feature.weight (16, 16)", "rgb_head.0.weight (8, 25)",
            "rgb_head.2.weight (3, 8)"]
    got = [x for x in out["layout"] if x.endswith(")") and ".weight" in x]
    equal_list(got, want, "NerfField(width=16, depth=4, skip=2, L_pos=2, L_dir=1): the weight shapes "
               "(PE(x): 15 numbers, PE(d): 9)")


@case("nerf_mlp", "the layers of a small NerfField, with the skip and the view direction")
@expecting(_nerf_layout)
def _(seed):
    return {"layout": layout(mod("cs180utils.nerf.fields").NerfField(width=16, depth=4, skip=2, L_pos=2, L_dir=1))}


def _nerf_forward(out):
    shape(out["sigma"], (64,), "sigma of 64 points")
    shape(out["rgb"], (64, 3), "rgb of 64 points")
    if (out["sigma"] < 0).any():
        raise Failed(f"density must be >= 0 (a ReLU): {int((out['sigma'] < 0).sum())} of 64 are negative")
    if (out["rgb"] <= 0).any() or (out["rgb"] >= 1).any():
        raise Failed("colours must be in (0, 1) (a sigmoid)")
    near(out["sigma2"], out["sigma"], "density seen from another view direction (it must not depend on it)")
    if (out["rgb2"] - out["rgb"]).abs().max() < 1e-6:
        raise Failed("colour did not change with the view direction: feed PE(d) to the colour head")


@case("nerf_mlp", "density ignores the view direction, colour depends on it; ranges")
@expecting(_nerf_forward)
def _(seed):
    f = fill(mod("cs180utils.nerf.fields").NerfField(width=16, depth=4, skip=2, L_pos=2, L_dir=1), seed)
    x = rand(seed, "x", 64, 3, lo=-1, hi=1)
    d1 = nn.functional.normalize(rand(seed, "d1", 64, 3, lo=-1, hi=1), dim=-1)
    d2 = nn.functional.normalize(rand(seed, "d2", 64, 3, lo=-1, hi=1), dim=-1)
    with torch.no_grad():
        s1, c1 = f(x, d1)
        s2, c2 = f(x, d2)
    return {"sigma": s1, "rgb": c1, "sigma2": s2, "rgb2": c2}


# ---- conv_block, coordinate_head ----------------------------------------------------------------------------------

def _block(out):
    equal_list(out["layout"][:7], ["0: Conv2d", "1: BatchNorm2d", "2: ReLU", "3: Conv2d", "4: BatchNorm2d",
                                   "5: ReLU", "6: MaxPool2d"],
               "ConvBlock(3, 8, kernel=5, double=True, batch_norm=True): its layers")
    if "0.weight (8, 3, 5, 5)" not in out["layout"] or "3.weight (8, 8, 3, 3)" not in out["layout"]:
        raise Failed(f"ConvBlock(3, 8, kernel=5, double=True): expected conv weights (8, 3, 5, 5) and (8, 8, 3, 3); "
                     f"got {[x for x in out['layout'] if 'weight' in x]}")
    shape(out["y"], (2, 8, 8, 8), "ConvBlock(3, 8, kernel=5, double=True) of a (2, 3, 16, 16) batch: 'same' "
          "padding, then a 2 x 2 max-pool")
    shape(out["y1"], (1, 4, 3, 5), "ConvBlock(2, 4) of a (1, 2, 7, 11) batch (odd sizes: the pool rounds down)")


@case("conv_block", "a ConvBlock's layers and output size")
@expecting(_block)
def _(seed):
    cnn = mod("cs180utils.keypoints.cnn")
    b = fill(cnn.ConvBlock(3, 8, kernel=5, double=True, batch_norm=True), seed)
    with torch.no_grad():
        return {"layout": layout(b), "y": b(rand(seed, "x", 2, 3, 16, 16)),
                "y1": fill(cnn.ConvBlock(2, 4), seed)(rand(seed, "x1", 1, 2, 7, 11))}


def _head(out):
    equal_list(out["layout"][:6], ["fc: Sequential", "fc.0: Flatten", "fc.1: Linear", "fc.2: ReLU", "fc.3: Dropout",
                                   "fc.4: Linear"], "CoordinateHead(in_features=12, n_points=3, hidden=5): its layers")
    near(out["raw"], [[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]], "CoordinateHead(sigmoid=False) whose last layer "
         "outputs (0, 1, 2, 3, 4, 5): (K, 2) pairs (x, y) in order")
    near(out["sig"], [[[0.5, 0.7311], [0.8808, 0.9526], [0.9820, 0.9933]]], "the same with sigmoid=True")


@case("coordinate_head", "the head's layers, its (K, 2) pairs and its sigmoid")
@expecting(_head)
def _(seed):
    cnn = mod("cs180utils.keypoints.cnn")
    out = {}
    for sig in (False, True):
        h = cnn.CoordinateHead(12, 3, hidden=5, sigmoid=sig).eval()
        with torch.no_grad():
            last = [m for m in h.modules() if isinstance(m, nn.Linear)][-1]
            last.weight.zero_()
            last.bias.copy_(torch.arange(6.0))
            out["sig" if sig else "raw"] = h(rand(seed, "x", 1, 3, 2, 2))
        out["layout"] = layout(h)
    return out


# ---- augment ------------------------------------------------------------------------------------------------------

def _dot_image(seed: int, n: int = 8):
    H = W = 32
    kps = rand(seed, "kp", n, 1, 2, lo=10, hi=22)
    img = torch.full((n, 1, H, W), -0.5)
    for b in range(n):
        u, v = int(kps[b, 0, 0]), int(kps[b, 0, 1])
        img[b, 0, v - 1:v + 2, u - 1:u + 2] = 0.5
        kps[b, 0] = torch.tensor([u + 0.5, v + 0.5])
    return img, kps


def _dot(out, seed):
    kps, img, before = out["kps"], out["img"], _dot_image(seed)[1]
    shape(kps, tuple(before.shape), "the augmented keypoints")
    moved = (kps - before).norm(dim=-1).max()
    if moved < 0.5:
        raise Failed("with rotation 30 and shift 6 px, no keypoint moved: apply the affine transform to the keypoints")
    for b in range(img.shape[0]):
        flat = img[b, 0].flatten()
        row, col = divmod(int(flat.argmax()), img.shape[-1])
        dist = math.hypot(float(kps[b, 0, 0]) - 0.5 - col, float(kps[b, 0, 1]) - 0.5 - row)
        if dist > 2.0:
            raise Failed(f"image {b}: a bright dot at keypoint {fmt(before[b, 0])} ends up in pixel (column {col}, "
                         f"row {row}) of the "
                         f"augmented image but its keypoint at {fmt(kps[b, 0])}: move the keypoints with the image")


@case("augment", "a bright dot stays under its keypoint through rotation and shift", compare=False)
@expecting(_dot)
def _(seed):
    a = mod("cs180utils.keypoints.augment")
    img, kps = _dot_image(seed)
    torch.manual_seed(seed)
    aug = a.KeypointAugment(a.AugmentConfig(brightness=0.0, rotation=30.0, shift_px=6.0))
    x, k = aug(img, kps)
    return {"img": x, "kps": k}


def _mirror(out):
    near(out["img"], out["flipped"], "the mirrored image (hflip=1): image.flip(-1)")
    near(out["kps"], [[[22.0, 5.0], [28.0, 9.0], [15.5, 20.0]]], "keypoints (2, 9), (8, 5), (14.5, 20) of a 30 px wide "
         "image mirrored with flip_perm (1, 0, 2): u -> 30 - u, then the left and right points swapped")
    if out["raised"] != 1:
        raise Failed("mirroring 3 keypoints without flip_perm must raise ValueError (which point is the left eye?)")


@case("augment", "a mirror moves u to W - u and swaps left and right points")
@expecting(_mirror)
def _(seed):
    a = mod("cs180utils.keypoints.augment")
    img = rand(seed, "img", 1, 20, 30, lo=-0.5, hi=0.5)
    kps = torch.tensor([[2.0, 9.0], [8.0, 5.0], [14.5, 20.0]])
    cfg = dict(brightness=0.0, rotation=0.0, shift_px=0.0, hflip=1.0)
    x, k = a.KeypointAugment(a.AugmentConfig(**cfg, flip_perm=(1, 0, 2)))(img, kps)
    try:
        a.KeypointAugment(a.AugmentConfig(**cfg))(img, kps)
        raised = 0
    except ValueError:
        raised = 1
    return {"img": x[None], "flipped": img.flip(-1)[None], "kps": k[None], "raised": raised}


# ---- resnet -------------------------------------------------------------------------------------------------------

def _resnet(out):
    if "net.conv1.weight (64, 1, 7, 7)" not in out["layout"]:
        raise Failed("KeypointResNet(in_channels=1): the first convolution must take 1 channel: expected "
                     f"net.conv1.weight (64, 1, 7, 7), got {[x for x in out['layout'] if 'conv1.weight' in x]}")
    if "net.fc.weight (10, 512)" not in out["layout"]:
        raise Failed("KeypointResNet(num_keypoints=5): the last layer must output 2K = 10 numbers: expected "
                     f"net.fc.weight (10, 512), got {[x for x in out['layout'] if 'fc.weight' in x]}")
    shape(out["y"], (2, 5, 2), "KeypointResNet(5 keypoints) of a (2, 1, 32, 32) batch")
    near(out["y"], out["mean"][None].expand(2, 5, 2), "an untrained KeypointResNet: zero-initialised last "
         "layer, so it answers the mean shape")


@case("resnet", "1 input channel, 2K outputs, and an untrained model answers the mean shape")
@expecting(_resnet)
def _(seed):
    mean = rand(seed, "mean", 5, 2)
    m = mod("cs180utils.keypoints.resnet").KeypointResNet(num_keypoints=5, in_channels=1, mean_shape=mean).eval()
    with torch.no_grad():
        return {"layout": layout(m), "y": m(rand(seed, "x", 2, 1, 32, 32)), "mean": mean}


# ---- gaussian, binary -----------------------------------------------------------------------------------------------

def _gauss(out):
    e = math.exp(-1 / 8)
    near(out["gy"], [[[e, 1.0, e]]], "gy of a keypoint at (2.5, 1.5), 3 rows, sigma 2: exp(-(y - 1.5)^2 / 8) at "
         "the row centres 0.5, 1.5, 2.5")
    near(out["gx"], [[[math.exp(-0.5), e, 1.0, e]]], "gx of the same keypoint, 4 columns: exp(-(x - 2.5)^2 / 8) at "
         "the column centres 0.5 ... 3.5")


@case("gaussian", "the two factors of a Gaussian heatmap, by hand")
@expecting(_gauss)
def _(seed):
    f = mod("cs180utils.keypoints.heatmaps").factored_targets(torch.tensor([[[2.5, 1.5]]]), (3, 4), "gaussian", 2.0)
    return {"gy": f.gy, "gx": f.gx}


def _binary(out):
    near(out["gy"], [[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]], "gy of keypoints (2.7, 1.2) and (9, 1) (off the 4-wide "
         "map) on a 3 x 4 map: one-hot of the row holding the point, all 0 off the map")
    near(out["gx"][:, :1], [[[0.0, 0.0, 1.0, 0.0]]], "gx of the keypoint (2.7, 1.2): one-hot of the column holding "
         "it (column 2, since 2 <= 2.7 < 3)")


@case("binary", "one-hot factors of the cell that holds the keypoint, by hand")
@expecting(_binary)
def _(seed):
    f = mod("cs180utils.keypoints.heatmaps").factored_targets(torch.tensor([[[2.7, 1.2], [9.0, 1.0]]]), (3, 4),
                                                                "binary")
    return {"gy": f.gy, "gx": f.gx}


# ---- soft_argmax, argmax --------------------------------------------------------------------------------------------

def _soft(out):
    near(out["peak"], [[[3.5, 2.5]]], "soft_argmax(normalize='sum') of a map with one pixel set at row 2, column 3: "
         "the centre of that pixel (x, y)")
    near(out["two"], [[[2.5, 2.5]]], "two pixels of equal weight 2 at (row 2, columns 1 and 3): their midpoint")


@case("soft_argmax", "the weighted average finds a planted peak and a midpoint")
@expecting(_soft)
def _(seed):
    h = mod("cs180utils.keypoints.heatmaps")
    m = torch.zeros(1, 1, 5, 6)
    m[0, 0, 2, 3] = 1.0
    m2 = torch.zeros(1, 1, 5, 6)
    m2[0, 0, 2, 1] = m2[0, 0, 2, 3] = 2.0
    return {"peak": h.soft_argmax(m, normalize="sum"), "two": h.soft_argmax(m2, normalize="sum")}


def _argmax(out):
    near(out["peak"], [[[3.5, 2.5], [0.5, 4.5]]], "argmax_coords of maps whose largest pixel is at (row 2, column "
         "3) and (row 4, column 0): the pixel centres as (x, y)")


@case("argmax", "argmax finds the centre of the largest pixel")
@expecting(_argmax)
def _(seed):
    m = rand(seed, "m", 1, 2, 5, 6) * 0.5
    m[0, 0, 2, 3] = 1.0
    m[0, 1, 4, 0] = 1.0
    return {"peak": mod("cs180utils.keypoints.heatmaps").argmax_coords(m)}


# BEGIN HIDDEN
# ---- hidden: the same functions on inputs drawn at grading time, against the reference -----------------------------

@case("pe", "PE of random 3-D points, L = 4", hidden=True)
def _(seed):
    pe = mod("cs180utils.encodings").positional_encoding
    x = rand(seed, "x", 5, 3, lo=-1, hi=1)
    return {"pe": pe(x, 4), "no_x": pe(x, 3, include_input=False)}


@case("field_mlp", "a 2-D field with random weights, PE encoding", hidden=True)
def _(seed):
    m = mod("cs180utils.field2d.model")
    model = fill(m.NeuralField2D(L=3, width=16, depth=3), seed)
    with torch.no_grad():
        return {"rgb": model(rand(seed, "uv", 20, 2)), "layout": layout(model), "mlp": layout(m.mlp(3, 5, 1, 2))}


@case("pixel_to_camera", "K and random pixels at random depths", hidden=True)
def _(seed):
    r = mod("cs180utils.nerf.rays")
    f = float(rand(seed, "f", 1, lo=50, hi=200))
    K = r.intrinsics(f, 31, 47)
    uv = rand(seed, "uv", 6, 2, lo=0, hi=40)
    return {"K": K, "x": r.pixel_to_camera(K, uv, rand(seed, "s", 6, lo=1, hi=5)), "x1": r.pixel_to_camera(K, uv)}


def _rand_c2w(seed: int, n: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(rand(seed, "R", n, 3, 3, lo=-1, hi=1))
    c2w = torch.eye(4).repeat(n, 1, 1)
    c2w[:, :3, :3] = q
    c2w[:, :3, 3] = rand(seed, "t", n, 3, lo=-3, hi=3)
    return c2w


@case("camera_to_world", "random rigid transforms of random points", hidden=True)
def _(seed):
    return {"x": mod("cs180utils.nerf.rays").transform(_rand_c2w(seed, 4), rand(seed, "x", 4, 3, lo=-2, hi=2))}


@case("pixel_to_ray", "rays of random cameras through random pixels", hidden=True)
def _(seed):
    r = mod("cs180utils.nerf.rays")
    K = torch.tensor([[80.0, 0.0, 20.0], [0.0, 80.0, 15.0], [0.0, 0.0, 1.0]])
    o, d = r.pixel_to_ray(K, _rand_c2w(seed, 5), rand(seed, "uv", 5, 2, lo=0, hi=40))
    return {"o": o, "d": d}


@case("pixel_centres", "pixel_grid of another size", hidden=True)
def _(seed):
    return {"grid": mod("cs180utils.nerf.rays").pixel_grid(3, 5)}


@case("sampling", "unperturbed samples and points for random near, far and rays", hidden=True)
def _(seed):
    s = mod("cs180utils.nerf.samplers")
    near_, far_ = rand(seed, "n", 4, lo=0.5, hi=2), rand(seed, "f", 4, lo=3, hi=6)
    t = s.stratified_t(near_, far_, 6, 4)
    return {"t": t, "x": s.points_along(rand(seed, "o", 4, 3), rand(seed, "d", 4, 3), t)}


@case("volrend", "weights and composite of random rays, with and without a background", hidden=True)
def _(seed):
    rd = mod("cs180utils.nerf.rendering")
    w, T, alpha = rd.render_weights(rand(seed, "s", 3, 16, hi=5), rand(seed, "d", 3, 16, lo=0.01, hi=0.3))
    rgbs = rand(seed, "c", 3, 16, 3)
    a, b = rd.composite(w, rgbs), rd.composite(w, rgbs, background=torch.tensor([0.2, 0.4, 0.6]))
    return {"w": w, "T": T, "alpha": alpha, "rgb": a["rgb"], "acc": a["acc"], "rgb_bg": b["rgb"]}


@case("depth", "expected depth of random rays", hidden=True)
def _(seed):
    w = rand(seed, "w", 3, 10) / 10
    t = torch.sort(rand(seed, "t", 3, 10, lo=2, hi=6), dim=-1).values
    return {"depth": mod("cs180utils.nerf.rendering").composite(w, rand(seed, "c", 3, 10, 3), t)["depth"]}


@case("nerf_mlp", "a NerfField with random weights", hidden=True)
def _(seed):
    f = fill(mod("cs180utils.nerf.fields").NerfField(width=12, depth=5, skip=3, L_pos=3, L_dir=2), seed)
    with torch.no_grad():
        s, c = f(rand(seed, "x", 16, 3, lo=-1, hi=1), nn.functional.normalize(rand(seed, "d", 16, 3, lo=-1), dim=-1))
    return {"sigma": s, "rgb": c, "layout": layout(f)}


@case("conv_block", "ConvBlocks with random weights", hidden=True)
def _(seed):
    cnn = mod("cs180utils.keypoints.cnn")
    out = {}
    for i, kw in enumerate([dict(kernel=3), dict(kernel=7, batch_norm=True), dict(double=True)]):
        b = fill(cnn.ConvBlock(2, 3, **kw), seed)
        with torch.no_grad():
            out[f"y{i}"] = b(rand(seed, f"x{i}", 2, 2, 12, 10))
        out[f"layout{i}"] = layout(b)
    return out


@case("coordinate_head", "a CoordinateHead with random weights", hidden=True)
def _(seed):
    cnn = mod("cs180utils.keypoints.cnn")
    out = {}
    for sig in (False, True):
        h = fill(cnn.CoordinateHead(8, 4, hidden=6, sigmoid=sig, dropout=0.3), seed)
        with torch.no_grad():
            out[f"y{sig}"] = h(rand(seed, "x", 3, 2, 2, 2))
        out[f"layout{sig}"] = layout(h)
    return out


@case("augment", "a mirror of many keypoints, against the reference", hidden=True)
def _(seed):
    a = mod("cs180utils.keypoints.augment")
    kps = rand(seed, "kp", 2, 4, 2, lo=0, hi=24)
    aug = a.KeypointAugment(a.AugmentConfig(brightness=0.0, rotation=0.0, shift_px=0.0, hflip=1.0,
                                            flip_perm=(3, 2, 1, 0)))
    x, k = aug(rand(seed, "img", 2, 1, 16, 24, lo=-0.5, hi=0.5), kps)
    return {"img": x, "kps": k}


@case("resnet", "a KeypointResNet with random weights, and one from a backbone", hidden=True)
def _(seed):
    from torchvision.models import resnet18  # noqa: PLC0415

    rn = mod("cs180utils.keypoints.resnet")
    m = fill(rn.KeypointResNet(num_keypoints=3, in_channels=1), seed)
    backbone = fill(resnet18(weights=None), seed + 1)
    b = rn.KeypointResNet(num_keypoints=3, in_channels=2, backbone=backbone).eval()
    with torch.no_grad():
        return {"y": m(rand(seed, "x", 2, 1, 32, 32)), "conv1": b.net.conv1.weight[:4],
                "yb": b(rand(seed, "xb", 1, 2, 32, 32)), "layout": layout(m)}


@case("gaussian", "Gaussian factors of random keypoints", hidden=True)
def _(seed):
    f = mod("cs180utils.keypoints.heatmaps").factored_targets(rand(seed, "k", 2, 3, 2, lo=-2, hi=14), (10, 12),
                                                                "gaussian", float(rand(seed, "s", 1, lo=0.7, hi=3)))
    return {"gy": f.gy, "gx": f.gx}


@case("binary", "binary factors of random keypoints", hidden=True)
def _(seed):
    f = mod("cs180utils.keypoints.heatmaps").factored_targets(rand(seed, "k", 2, 5, 2, lo=-2, hi=14), (10, 12),
                                                                "binary")
    return {"gy": f.gy, "gx": f.gx}


@case("soft_argmax", "soft-argmax of random logits, global and windowed", hidden=True)
def _(seed):
    h = mod("cs180utils.keypoints.heatmaps")
    m = rand(seed, "m", 2, 3, 9, 11, lo=-3, hi=3)
    return {"soft": h.soft_argmax(m), "t": h.soft_argmax(m, temperature=0.5), "win": h.soft_argmax(m, window=2),
            "sum": h.soft_argmax(m.exp(), normalize="sum")}


@case("argmax", "argmax of random maps", hidden=True)
def _(seed):
    return {"xy": mod("cs180utils.keypoints.heatmaps").argmax_coords(rand(seed, "m", 2, 3, 9, 11))}
# END HIDDEN


# ---- running them ---------------------------------------------------------------------------------------------------

def encode(value):
    """Outputs -> plain JSON data (tensors as dtype, shape and a flat list)."""
    if isinstance(value, torch.Tensor):
        v = value.detach().cpu()
        if v.is_complex():
            raise TypeError("complex tensors are not outputs of any question")
        return {"__tensor__": str(v.dtype).removeprefix("torch."), "shape": list(v.shape),
                "data": v.to(torch.float64 if v.is_floating_point() else torch.int64).flatten().tolist()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"an output of type {type(value).__name__} cannot be recorded")


_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
           "int8": torch.int8, "uint8": torch.uint8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
           "bool": torch.bool}


def decode(value):
    """The inverse of :func:`encode`; anything malformed raises ValueError."""
    if isinstance(value, dict) and "__tensor__" in value:
        dtype = _DTYPES.get(value["__tensor__"])
        shape_ = value.get("shape")
        data = value.get("data")
        if dtype is None or not isinstance(shape_, list) or not isinstance(data, list) \
                or not all(isinstance(s, int) and s >= 0 for s in shape_) or math.prod(shape_) != len(data):
            raise ValueError("malformed tensor in the outputs")
        return torch.tensor(data, dtype=torch.float64 if dtype.is_floating_point else torch.int64).reshape(shape_)
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def same_outputs(got, want, atol: float, where: str = "output") -> str | None:
    """None when ``got`` equals ``want`` (tensors within ``atol``), else what differs, in words."""
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{where}: expected a tensor, got {type(got).__name__}"
        if got.shape != want.shape:
            return f"{where}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        g, w = got.to(torch.float64), want.to(torch.float64)
        if not torch.isfinite(g).all() and torch.isfinite(w).all():
            return f"{where}: NaN or inf in the output"
        if not torch.allclose(g, w, rtol=1e-4, atol=atol, equal_nan=True):
            return f"{where}: differs from the reference answer by up to {float((g - w).abs().nan_to_num(1e9).max()):.3g}"
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return f"{where}: expected the outputs {sorted(want)}, got {sorted(got) if isinstance(got, dict) else got}"
        for k in want:
            why = same_outputs(got[k], want[k], atol, f"{k}")
            if why:
                return why
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where}: expected {want!r}, got {got!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            why = same_outputs(g, w, atol, f"{where}[{i}]")
            if why:
                return why
        return None
    return None if got == want else f"{where}: expected {want!r}, got {got!r}"


def run_probe(c: Case, seed: int) -> dict:
    """The outputs of one case's probe (what the student's code computes); exceptions propagate."""
    torch.manual_seed(seed)
    out = c.probe(seed)
    if not isinstance(out, dict):
        raise TypeError(f"probe of {c.qid}/{c.name} returned {type(out).__name__}")
    return out


def _takes_seed(fn) -> bool:
    return fn.__code__.co_argcount >= 2


def judge(c: Case, out, seed: int, ref=None) -> str | None:
    """None when the case passes on outputs ``out`` (and, given, the reference's outputs ``ref``); else why not,
    in words."""
    try:
        if c.expect is not None:
            c.expect(out, seed) if _takes_seed(c.expect) else c.expect(out)
    except Failed as e:
        return str(e)
    except Exception as e:   # noqa: BLE001  (malformed outputs: a missing key, a wrong type)
        return f"the outputs could not be checked: {type(e).__name__}: {e}"
    if ref is not None and c.compare:
        return same_outputs(out, ref, c.atol)
    return None
