"""The deliverable besides the code: written questions, the figures a grader reads, and the project page.

CS180 grades a project web page: each part's figures with the student's explanation. The workbook's version:

- ``PARTS``: the write-up's parts in its order, one notebook each, with the points a grader gives by hand for
  the part's figures and numbers and the range the numbers should fall in (cpu profile, from README's results
  table; the full profile was not measured: no GPU was available to the sessions that built this).
- ``WRITTEN``: the written questions (CS231n's inline questions). Each is two markdown cells of its notebook,
  right after the figure it asks about: the question (tagged ``written-<id>``) and the answer (tagged
  ``answer-<id>``). The instructor's notebooks hold a model answer there; the student edition replaces it by
  ``PLACEHOLDER`` (``build.student_notebook``).
- Code cells tagged ``report`` hold a part's key figures and printed numbers: ``report.py`` puts their outputs,
  with the questions and answers, on one HTML page (``make report``).

``tests/assignment/test_report.py`` keeps this table and the notebooks' tagged cells consistent.
"""
from __future__ import annotations

from dataclasses import dataclass

PLACEHOLDER = "*Your answer here (a few sentences; what the figure above shows and why).*"
REPORT_TAG = "report"


@dataclass(frozen=True)
class Part:
    notebook: str            # "03"
    title: str               # the write-up's name of the part
    figure_points: int       # given by hand: the part's figures and numbers are in the report, from a real run
    expected: str            # the range of the part's numbers, cpu profile (README's results table)


@dataclass(frozen=True)
class Written:
    id: str                  # "01-L": cells tagged written-01-L and answer-01-L
    notebook: str
    points: int
    gist: str                # what it asks, in a line
    rubric: str              # what earns the points


FULL_PROFILE = "not measured (no GPU was available)"

PARTS: tuple[Part, ...] = (
    Part("01", "Neural field in 2-D", 1,
         "the main fit's PSNR (section 3): `train field2d --profile cpu`, the same preset, gave 26.62 dB; the "
         "notebook's check fails below 25 dB. The grid encoding (section 7) stops at a time budget: 40.40 dB by "
         "`train field2d --encoding grid --profile cpu`"),
    Part("02", "NeRF: cameras, rays and samples", 1,
         "no score: the camera distances printed lie between near and far (the notebook asserts it)"),
    Part("03", "NeRF: volume rendering, training, novel views", 1,
         "validation PSNR: at least 8 dB above an all-black prediction (printed; the notebook asserts it), below "
         "the 24.07 dB of `train nerf --profile cpu`, which trains longer than the notebook"),
    Part("04", "NeRF: depth maps", 1,
         "the depth check's median error below one sample spacing (both printed; asserted)"),
    Part("05", "Nose-tip detection", 1,
         "validation NME: `train nose --profile cpu --threads 1` gave 5.08 % (seeds 0-3: 5.08 to 8.20 %), the mean "
         "shape 27.2 %; the notebook's check fails above 0.8 of the mean shape's"),
    Part("06", "All facial keypoints, augmentation", 1,
         "validation NME: `train keypoints --profile cpu` gave 4.87 % (seeds 0-5: 3.87 to 5.21 %; the first CNN "
         "alone 6.72 %), the mean shape 25.5 %"),
    Part("07", "ResNet18 on iBUG 300-W", 1,
         "test NME: `train resnet --profile cpu` gave 4.62 % (mean shape 18.9 %) with a longer budget than the "
         "notebook's; the notebook's check fails above half the mean shape's"),
    Part("08", "U-Net, Gaussian heatmaps", 1,
         "test NME: `train unet --profile cpu` gave 3.43 % with the mirror image (3.56 % the face alone) with a "
         "longer budget than the notebook's; the notebook's check fails above half the mean shape's"),
    Part("09", "U-Net, binary heatmaps", 1,
         "test NME: `train unet-binary --profile cpu` gave 3.40 % with the mirror image (3.55 % the face alone), "
         "next to the Gaussian model's 3.43 %: either may win"),
    Part("10", "A fast NeRF on a CPU", 1,
         "validation PSNR: `train nerf --model fast --profile cpu` gave 32.18 dB (23 dB after 8.2 s) in a budget "
         "longer than the notebook's; the notebook checks that it is above the vanilla model's, or less than "
         "half a dB below"),
)

WRITTEN: tuple[Written, ...] = (
    Written("01-L", "01", 3, "the L x D grid: what more frequencies and more width change, and why",
            "the trend along L (a blur at L = 0, edges with more bands), along D (capacity to use the bands), "
            "and the reason (an MLP on raw coordinates is biased to low frequencies; PE supplies high ones)"),
    Written("01-sweep", "01", 2, "the write-up's sweep: seen against unseen pixels",
            "seen pixels above unseen ones at every L of the sweep, explained by the Nyquist limit of the image "
            "and float32's broken bands (memorisation, not detail)"),
    Written("01-grid", "01", 2, "why the grid encoding wins on the same time budget, and what it gives up",
            "a step touches a few vertices and a tiny MLP; it gives up extrapolation by frequencies, and hashed "
            "levels collide"),
    Written("02-rays", "02", 2, "the ray-direction image: why smooth, the principal ray, centres against corners",
            "directions are an affine map of the pixel (K^-1, then R) normalised; the principal point looks down "
            "+z; corners shift every ray by half a pixel"),
    Written("02-samples", "02", 2, "why samples are jittered in training only",
            "fixed samples train the field at a few depths only; jitter covers every depth in its bin; rendering "
            "stays deterministic"),
    Written("03-psnr", "03", 2, "why PSNR climbs fast, then slowly",
            "coarse content (background, silhouette, mean colours) first, detail later on few pixels; PSNR is "
            "logarithmic in the MSE"),
    Written("03-background", "03", 2, "what the white background reveals",
            "white minus black is 1 - opacity; semi-transparent or missing parts; a black background cannot tell "
            "empty space from black matter"),
    Written("04-check", "04", 2, "the expected depth against the exact one: how large the error is, where, why",
            "the error is about the sample spacing (printed): depth is quantised to the samples; silhouettes have "
            "opacity below 1"),
    Written("04-depth", "04", 2, "where the trained NeRF's depth map is wrong, and why",
            "edges and thin parts (partial opacity), semi-transparent density (floaters), dark parts that can "
            "stay empty; no depth supervision"),
    Written("05-sigmoid", "05", 2, "with and without the sigmoid output",
            "names the printed difference (first epoch, end, training loss) and the reason (predictions start in "
            "the image, bounded; without it wild starts and large early gradients)"),
    Written("05-fail", "05", 2, "which faces fail, and why",
            "describes the worst faces (pose, expression, light) and ties them to the few training people"),
    Written("06-aug", "06", 2, "with and without augmentation: which generalises, and why",
            "lower training loss but worse validation without augmentation: memorisation of few people; "
            "augmentation makes the features follow the face"),
    Written("06-landmarks", "06", 2, "which landmarks are hardest, and why",
            "jaw and brows (position along a contour is ambiguous); corners of eyes and nose are distinctive"),
    Written("07-ced", "07", 2, "per landmark and the cumulative error distribution",
            "reads the curve (fraction of faces under each NME) against the mean shape; jaw hardest and why"),
    Written("07-mine", "07", 2, "your own photos: success, partial result, failure",
            "explains the failure (pose, occlusion, the detector's box) and why self-disagreement ranks them"),
    Written("08-readout", "08", 2, "local soft-argmax, whole-map soft-argmax and argmax",
            "argmax is whole pixels; the whole-map mean is pulled by mass far from the peak; the local one is "
            "sub-pixel and robust"),
    Written("08-sigma", "08", 2, "what sigma trades",
            "small sigma: precise but sparse gradient; large: smooth but blurs neighbouring points; the short "
            "budget makes the ranking illustrative"),
    Written("09-targets", "09", 3, "Gaussian against binary targets in your run",
            "reads the printed table; the binary target snaps to a pixel and has no notion of close; either may "
            "win at this budget (README's results: within a few hundredths of a percent)"),
    Written("09-fail", "09", 2, "where binary fails",
            "a map with several modes or a flat one on the worst face; argmax jumps, soft-argmax averages"),
    Written("10-hull", "10", 2, "the visual hull: what it keeps, what it cannot carve",
            "silhouettes in every view; a superset of the object (concavities stay); needs a known background"),
    Written("10-speed", "10", 3, "why the fast field wins on the same clock",
            "fewer evaluated samples (occupancy), cheaper evaluations (grid look-ups, tiny MLP; the printed "
            "ratio), both used against the printed curves"),
)


def written_tag(wid: str) -> str:
    return f"written-{wid}"


def answer_tag(wid: str) -> str:
    return f"answer-{wid}"


def part(notebook: str) -> Part:
    return next(p for p in PARTS if p.notebook == notebook)


def written_points() -> int:
    return sum(w.points for w in WRITTEN)


def figure_points() -> int:
    return sum(p.figure_points for p in PARTS)
