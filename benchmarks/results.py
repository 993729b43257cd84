"""README's results table, measured by the commands it shows (``make results``).

    python benchmarks/results.py                       # run every row, record it, rewrite README's table
    python benchmarks/results.py --only nerf-fast nose # just these rows (the others keep their last measurement)
    python benchmarks/results.py --render              # rewrite README's table from benchmarks/results.json only
    python benchmarks/results.py --determinism         # each row's capped command twice: same JSON?

Each row is a ``python -m cs180utils`` command of the ``cpu`` profile.  A measurement runs it into a fresh
temporary run folder (``--out``, ``--fresh``: never a cached run), keeps its JSON line, and records it in
``benchmarks/results.json`` with the machine, the date, the commit and the load average before the run
(another job running on the same cores slows every time-capped row).  README's table between the
``<!-- results:begin -->`` and ``<!-- results:end -->`` markers is written from that file, so a figure in it is
always the output of the command beside it.  ``tests/test_results.py`` checks that every command parses and that
README's table is the one this file renders.

``--determinism`` runs each row's step-capped variant (``--max-seconds none``: a time budget makes the step
count depend on speed) twice and compares the JSON lines, ignoring wall-clock fields.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RECORD = Path(__file__).resolve().parent / "results.json"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
# fields of a JSON line that depend on the clock or the run folder, not on the numbers trained
CLOCK_FIELDS = {"seconds", "train_seconds", "zoom_train_seconds", "ms_per_step", "seconds_per_step", "seconds_to_23db", "out",
                "checkpoint", "stopped_at_max_seconds", "peak_rss_mb"}


@dataclass(frozen=True)
class Row:
    key: str            # short name for --only
    what: str           # the project part, as README's first column says it
    command: str        # arguments after `python -m cs180utils` (cpu profile)
    result: str         # README's result cell: a format string over the command's JSON line
    capped: str = ""    # extra arguments for --determinism (a step or epoch cap, no time budget)


ROWS: tuple[Row, ...] = (
    Row("field2d", "2-D neural field (Grace Hopper, PE L = 10, 256×4 MLP)",
        "train field2d --profile cpu",
        "{psnr:.2f} dB after {steps} steps in {train_seconds:.0f} s",
        "--steps 100"),
    Row("field2d-grid", "2-D field, multiresolution grid + 64×2 MLP (Instant-NGP's idea), 60 s budget",
        "train field2d --encoding grid --profile cpu",
        "{psnr:.2f} dB after {steps} steps in {train_seconds:.0f} s",
        "--steps 50 --max-seconds none"),
    Row("nerf", "NeRF, course network shrunk to 8×128, samples in the object's box",
        "train nerf --profile cpu",
        "{scene}: {val_psnr:.2f} dB (validation) after {steps} steps in {seconds:.0f} s",
        "--steps 60 --max-seconds none"),
    Row("nerf-fast", "NeRF, fast field (dense grids + occupancy grid), pure PyTorch",
        "train nerf --model fast --profile cpu",
        "{scene}: {val_psnr:.2f} dB in {seconds:.0f} s, 23 dB after {seconds_to_23db} s",
        "--steps 200 --max-seconds none"),
    Row("nose", "nose tip, IMM faces", "train nose --profile cpu --threads 1",
        "NME {val_nme:.2f} % (mean shape {baseline_nme:.1f} %) in {seconds:.0f} s",
        "--epochs 3"),
    Row("nose-course", "nose tip, the course's plain CNN (no BatchNorm, augmentation or flips)",
        "train nose --preset course --profile cpu --threads 1",
        "NME {val_nme:.2f} % (mean shape {baseline_nme:.1f} %) in {seconds:.0f} s",
        "--epochs 3"),
    Row("keypoints", "all IMM keypoints with augmentation, then a second CNN on a crop around them",
        "train keypoints --profile cpu",
        "NME {val_nme:.2f} % ({val_nme_first:.2f} % the first CNN alone; mean shape {baseline_nme:.1f} %) "
        "in {seconds:.0f} s",
        "--epochs 2"),
    Row("resnet", "ResNet18, iBUG 300-W test split", "train resnet --profile cpu",
        "NME {val_nme:.2f} % (mean shape {baseline_nme:.1f} %) after {epochs:g} epochs, {seconds:.0f} s",
        "--epochs 1 --max-seconds none"),
    Row("unet", "U-Net, Gaussian heatmaps, local soft-argmax", "train unet --profile cpu",
        "NME {val_nme:.2f} % with the mirror image ({val_nme_single:.2f} % the face alone; argmax {val_nme_argmax:.2f} %, "
        "whole-map soft-argmax {val_nme_global:.2f} %) after {epochs:g} epochs, {seconds:.0f} s",
        "--epochs 1 --max-seconds none"),
    Row("unet-binary", "U-Net, binary-mask heatmaps", "train unet-binary --profile cpu",
        "NME {val_nme:.2f} % with the mirror image ({val_nme_single:.2f} % the face alone; argmax {val_nme_argmax:.2f} %) "
        "after {epochs:g} epochs, {seconds:.0f} s",
        "--epochs 1 --max-seconds none"),
)


def rows(only: list[str] | None = None) -> list[Row]:
    known = {r.key: r for r in ROWS}
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; the rows are {', '.join(known)}")
    return [r for r in ROWS if not only or r.key in only]


def machine() -> str:
    """CPU model and core count, e.g. ``AMD EPYC 7B13, 2 cores``."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        # the files this script writes itself (README's table, the record) do not make the code "changed"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                *(f":(exclude){f.relative_to(ROOT)}" for f in (README, RECORD))], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except OSError:
        return "unknown"


def run_command(args: str, out: Path) -> dict:
    """Run ``python -m cs180utils ARGS --out OUT --fresh``; its JSON line (the last line on stdout)."""
    argv = [sys.executable, "-m", "cs180utils", *shlex.split(args), "--out", str(out), "--fresh"]
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"`{' '.join(argv[1:])}` failed (exit {proc.returncode}); run it alone to see why")
    return json.loads(lines[-1])


def measure(row: Row) -> dict:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix=f"results-{row.key}-") as tmp:
        line = run_command(row.command, Path(tmp))
    return {"command": row.command, "json": line, "date": dt.date.today().isoformat(), "commit": commit(),
            "machine": machine(), "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def load_record(path: Path = RECORD) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def cell(row: Row, entry: dict | None) -> str:
    """README's result cell for ``row`` from its recorded measurement."""
    if entry is None:
        return "not measured yet"
    if entry["command"] != row.command:
        return f"not measured with this command yet (last: `{entry['command']}`)"
    try:
        return row.result.format(**entry["json"])
    except (KeyError, ValueError, TypeError) as exc:
        return f"the JSON line lacks what this row shows ({exc}); re-measure"


def render(record: dict) -> str:
    """The Markdown between README's markers."""
    lines = ["| project part | command | result | measured |", "|---|---|---|---|"]
    several = len({e["machine"] for e in record.values()}) > 1   # then each row names its machine
    for row in ROWS:
        entry = record.get(row.key)
        when = "" if entry is None else f"{entry['date']}, {entry['commit']}, load {entry['load_before']:.1f}"
        if entry is not None and several:
            when += f", {entry['machine']}"
        lines.append(f"| {row.what} | `{row.command}` | {cell(row, entry)} | {when} |")
    machines = sorted({e["machine"] for e in record.values()})
    lines += ["", f"Machine: {'; '.join(machines) or 'none yet'}. Load is the 1-minute load average just before the "
                  "command started: near 0 on an idle machine; a row measured right after another still carries that "
                  "row's own two threads (about 2) for a minute or so, so only a value well above 2 says that "
                  "something else was running."]
    return "\n".join(lines)


def rewrite_readme(record: dict, readme: Path = README) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers for the results table")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{render(record)}\n{END}{tail}")


def readme_table(readme: Path = README) -> str:
    text = readme.read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def determinism(row: Row) -> tuple[bool, dict]:
    """Run the row's capped command twice; (same numbers?, the fields that differ)."""
    args = f"{row.command} {row.capped}"
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        first, second = run_command(args, Path(a)), run_command(args, Path(b))
    differ = {k: (first.get(k), second.get(k)) for k in set(first) | set(second)
              if k not in CLOCK_FIELDS and first.get(k) != second.get(k)}
    return not differ, differ


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", metavar="ROW", help=f"rows to run: {', '.join(r.key for r in ROWS)}")
    p.add_argument("--render", action="store_true", help="only rewrite README's table from results.json")
    p.add_argument("--determinism", action="store_true", help="run each row's capped command twice and compare")
    a = p.parse_args(argv)
    if a.determinism:
        ok = True
        for row in rows(a.only):
            same, differ = determinism(row)
            ok &= same
            print(f"{row.key:12} `{row.command} {row.capped}`: "
                  + ("same numbers twice" if same else f"DIFFERENT: {differ}"), flush=True)
        return 0 if ok else 1
    record = load_record()
    if not a.render:
        for row in rows(a.only):
            print(f"{row.key}: python -m cs180utils {row.command}", flush=True)
            record[row.key] = measure(row)
            print("  ->", cell(row, record[row.key]), flush=True)
            RECORD.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")   # after each row
    rewrite_readme(record)
    print(f"README's table rewritten from {RECORD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
