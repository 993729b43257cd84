"""``python -m cs180utils VERB TARGET [options]``: the workbook's trainings, headless.

Every ``train``/``eval``/``render`` command prints, as its last line on stdout, one JSON object with its
headline metrics and ``"seconds"``.  Progress bars and logs go to stderr.

Each command lives in the module that owns its subject; that module provides

    add_arguments(parser: argparse.ArgumentParser, command: str) -> None
    run(args: argparse.Namespace, command: str) -> dict      # the JSON line

and this file only adds the shared options and dispatches (the module is imported only when used).

Failures (:func:`main`): a bad option value is refused by argparse before any work (exit 2); an ``--out`` that
cannot be written is refused before any work; the package's errors (missing or corrupt data, incompatible
checkpoints, a diverged training) and the OS's (no space, no permission) print one line ``error: ...`` that says
what to do (exit 1); anything else is a bug, said in one line (exit 1). ``--debug`` adds the traceback. Ctrl-C
(exit 130) and SIGTERM (exit 143) say whether a checkpoint was kept and how to resume.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Callable, Sequence

from cs180utils.machinery.settings import UNSET, SettingError

# VERB -> TARGET -> (module, one-line help)
COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "train": {
        "field2d": ("cs180utils.machinery.field2d.cli", "fit a 2D neural field (PE + MLP) to an image (notebook 01)"),
        "nerf": ("cs180utils.machinery.nerf.cli", "train a NeRF on a scene npz (notebooks 02-04, 10); --model vanilla|fast"),
        "nose": ("cs180utils.machinery.keypoints.cli_imm", "nose-tip CNN on the IMM faces (notebook 05)"),
        "keypoints": ("cs180utils.machinery.keypoints.cli_imm", "all-keypoint CNN with augmentation on IMM (notebook 06)"),
        "resnet": ("cs180utils.machinery.keypoints.cli_300w", "ResNet18 on the 68-point iBUG 300-W set (notebook 07)"),
        "unet": ("cs180utils.machinery.keypoints.cli_300w", "U-Net with Gaussian heatmaps on 300-W (notebook 08)"),
        "unet-binary": ("cs180utils.machinery.keypoints.cli_300w", "U-Net with binary-mask heatmaps on 300-W (notebook 09)"),
    },
    "eval": {
        "nerf": ("cs180utils.machinery.nerf.cli", "PSNR of a NeRF checkpoint on a scene's validation images"),
        "keypoints": ("cs180utils.machinery.keypoints.cli_300w", "NME/MAE of a 300-W checkpoint on any dlib XML label file"),
    },
    "predict": {
        "keypoints": ("cs180utils.machinery.keypoints.cli_300w", "the Kaggle submission CSV of a 300-W checkpoint on the face "
                                                       "boxes of a dlib XML (with or without <part>s)"),
    },
    "render": {
        "nerf": ("cs180utils.machinery.nerf.cli", "colour and depth videos of a NeRF checkpoint over the test cameras"),
    },
    "data": {
        "fetch": ("cs180utils.machinery.data.cli", "download a dataset into the cache (lego, imm, ibug300w, fox)"),
        "where": ("cs180utils.machinery.data.cli", "show where each dataset is found (or why not)"),
    },
}


def _usage() -> str:
    lines = ["usage: python -m cs180utils VERB TARGET [options]   (VERB TARGET --help for its options)", "",
             "commands:"]
    for verb, targets in COMMANDS.items():
        for target, (_, help_) in targets.items():
            lines.append(f"  {verb} {target:<12} {help_}")
    lines += ["", "shared options: --profile smoke|cpu|full, --data-dir DIR, --out DIR, --seed N, --device cpu|cuda|mps,",
              "                --debug (a failure prints its traceback, not only its one-line message)",
              "The last line on stdout of train/eval/render is one JSON object with the headline metrics."]
    return "\n".join(lines)


def common_parser() -> argparse.ArgumentParser:
    """The options every command shares (as a parent parser)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("shared options")
    g.add_argument("--profile", choices=("smoke", "cpu", "full"), default=None,
                   help="run profile (default: $CS180_PROFILE, else full on CUDA, else cpu)")
    g.add_argument("--data-dir", default=None, help="a folder to look for the datasets in first (then "
                                                     "$CS180_DATA_DIR, then data/)")
    g.add_argument("--out", default=None, help="train: the run folder for checkpoint.pt and result.json (default: "
                                                 "runs/<part>/<name>-<hash of the settings>, as the notebooks use); "
                                                 "render: the folder for the videos (default: beside the checkpoint)")
    g.add_argument("--seed", type=int, default=UNSET, help="random seed (default 0)")
    g.add_argument("--device", type=device_name, default=UNSET,
                   help="cpu, cuda, cuda:N or mps (default: best available)")
    g.add_argument("--debug", action="store_true", help="on failure, print the traceback too (for bug reports)")
    return p


def device_name(text: str) -> str:
    """An argparse type: a device name ``--device`` accepts (cpu, cuda, cuda:N, mps, auto); whether it is
    available here is checked when the command picks it (:func:`cs180utils.machinery.config.pick_device`)."""
    name = text.strip().lower()
    kind, colon, index = name.partition(":")
    if name == "auto" or (kind in ("cpu", "mps") and not colon) or (kind == "cuda" and (not colon or index.isdigit())):
        return name
    raise argparse.ArgumentTypeError(f"unknown device {text!r}: use one of cpu, cuda, cuda:N, mps")


def add_training_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """``--fresh``, which every ``train`` command has. How long and how a training runs (``--steps`` /
    ``--epochs``, ``--max-seconds``, ``--batch-size``, ``--lr``, ...) are options made from the experiment's config
    fields (:func:`cs180utils.machinery.settings.add_options`): one vocabulary because the configs share the names."""
    g = parser.add_argument_group("training")
    g.add_argument("--fresh", action="store_true", help="start over, ignoring a checkpoint already in --out")
    return g


def add_preset_option(parser: argparse.ArgumentParser, presets) -> None:
    """``--preset NAME|none`` for an experiment whose preset table (``presets``) has named presets (e.g. ``course``:
    the write-up's recipe, :func:`cs180utils.machinery.settings.make_config`); nothing when it has none. Default None:
    ``$CS180_PRESET`` where the experiment has it."""
    from cs180utils.machinery.settings import named_presets  # noqa: PLC0415
    names = named_presets(presets)
    if names:
        parser.add_argument("--preset", choices=(*names, "none"), default=None,
                            help=f"a named preset over the profile's ({', '.join(names)}: the course write-up's "
                                 f"recipe; none: the profile's alone; default: $CS180_PRESET where it applies, else "
                                 f"none)")


def number(kind: type = int, minimum: float | None = None, above: float | None = None, none: tuple[str, ...] = (),
           unit: str = "", maximum: float | None = None) -> Callable[[str], float | int | None]:
    """An argparse type: a whole number (``kind=int``) or a finite number (``float``) of at least ``minimum`` (or
    above ``above``) and at most ``maximum``, or None for any of the words in ``none`` (e.g. ``("none",)`` for
    "no cap")."""
    def parse(text: str):
        if text.strip().lower() in none:
            return None
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            alt = f" nor {' / '.join(repr(w) for w in none)}" if none else ""
            raise argparse.ArgumentTypeError(f"{text!r} is neither {what}{alt}" if alt
                                             else f"{text!r} is not {what}") from None
        if kind is float and value in (float("inf"), float("-inf")) or value != value:
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if minimum is not None and not value >= minimum:
            bound = f"{minimum}{unit} or more" if minimum == 0 else f"at least {minimum}{unit}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be above {above}{unit}, got {text}")
        if maximum is not None and not value <= maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}{unit}, got {text}")
        return value
    parse.__name__ = f"{kind.__name__}_option"
    return parse


positive_int = number(int, minimum=1)
positive_float = number(float, above=0)
optional_seconds = number(float, above=0, none=("none", "off", "0"))   # seconds, or none for no cap


def build_parser(verb: str, target: str) -> tuple[argparse.ArgumentParser, object]:
    module_name, help_ = COMMANDS[verb][target]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m cs180utils {verb} {target}", description=help_,
                                     parents=[common_parser()],
                                     usage="%(prog)s [options]   (--help lists them)")
    module.add_arguments(parser, f"{verb} {target}")
    return parser, module


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (the training loop's checkpoints stay; the message says how to resume)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _interrupted(exc: KeyboardInterrupt) -> str:
    """The one line printed when a command is stopped: what was kept and how to go on. The training loop puts
    the checkpoint it leaves behind on the exception (``exc.checkpoint``: a path, or None before the first)."""
    what = "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted"
    if not hasattr(exc, "checkpoint"):
        return f"{what}; what was written is kept: run the same command again to resume"
    if exc.checkpoint is None:
        return f"{what} before the first checkpoint: nothing was saved; run the same command again to start over"
    return f"{what}: the last checkpoint ({exc.checkpoint}) is kept; run the same command again to resume"


def check_out(out: str | None) -> None:
    """Refuse an ``--out`` that cannot take the run's files, before any work: a file, a folder under a file, or
    a folder that cannot be written (read-only, no permission). Nothing is created here."""
    if out is None:
        return
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; pass a folder for the run's files (it is created if "
                                 f"missing)")
    _check_writable(path, f"--out {out}", "pass another folder", "pass a folder you can write to")


def check_file_out(path: str | os.PathLike, option: str, example: str) -> None:
    """Refuse a file destination (``option``, e.g. ``--csv``) that cannot be written, before any work: a folder,
    a path under a file, or a folder that cannot be written. ``example``: a file name to suggest in a folder.
    Nothing is created here."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path} is a folder; pass a file name (e.g. {path / example})")
    _check_writable(path.parent, f"{option} {path}", "pass another path", "pass a path in a folder you can write to")


def _check_writable(path: Path, what: str, instead: str, writable: str) -> None:
    """``path``'s nearest existing folder must be a folder (not a file) and writable (a probe file is made and
    removed there); else one line: ``what`` cannot be created / is not writable, then ``instead`` / ``writable``."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"{what} cannot be created: {existing} is a file; {instead}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".cs180-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PermissionError(f"{what} is not writable ({exc.strerror or exc} in {existing}); {writable}") from None


# failures with a message that says what to do: one line, no traceback (--debug shows it). Anything else is a
# bug: one line that says so, and the traceback with --debug.
EXPECTED = (OSError, ValueError, RuntimeError, MemoryError)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if len(argv) < 2 or argv[0] not in COMMANDS or argv[1] not in COMMANDS[argv[0]]:
        print(_usage())
        asked_help = not argv or argv[0] in ("-h", "--help", "help")
        if not asked_help:
            print(f"\nerror: unknown command {' '.join(argv[:2])!r}", file=sys.stderr)
        return 0 if asked_help else 2
    verb, target = argv[0], argv[1]
    try:
        parser, module = build_parser(verb, target)
    except ImportError as exc:
        print(f"error: '{verb} {target}' is unavailable: {exc}. Reinstall the workbook (make setup) or "
              f"install the missing package.", file=sys.stderr)
        return 1
    args = parser.parse_args(argv[2:])
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from cs180utils.machinery import config, distributed  # noqa: PLC0415  (torch: imported when a command runs)
        config.get_profile(getattr(args, "profile", None))   # a misspelt $CS180_PROFILE / $CS180_PRESET is
        config.get_preset(getattr(args, "preset", None))     # refused by every command, before any work
        distributed.setup()   # under torchrun: join the other processes (nothing otherwise)
        if verb in ("train", "render"):
            check_out(args.out)
        result = module.run(args, f"{verb} {target}")
    except SettingError as exc:   # a setting out of its range: refused like argparse refuses a bad value
        option = getattr(parser, "cs180_options", {}).get(exc.field)
        parser.error(f"argument {option}: {exc.message}" if option else str(exc))   # exit 2
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        print(_interrupted(exc), file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except EXPECTED as exc:  # clear, actionable errors from the package, the OS and the libraries
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001  a bug: say so in one line, the traceback with --debug
        if debug:
            traceback.print_exc()
        print(f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in the workbook: run again "
              f"with --debug for the traceback and report it", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        from cs180utils.machinery import distributed  # noqa: PLC0415
        distributed.teardown()
    if result is not None and distributed.rank_from_env() == 0:   # under torchrun: rank 0's line only
        sys.stdout.flush()
        from cs180utils.machinery.training import strict_json  # noqa: PLC0415
        print(json.dumps(strict_json(result), default=str, allow_nan=False), flush=True)
    return 0
