"""One question of a submission, run in a process of its own: the only place where a student's code runs.

The grader writes, for question ``q``, a copy of the course's package in which only ``q``'s answers come from
the submission (every other question keeps the reference solution: ``markers.splice``), and runs
``python -I -c ...child()`` in it. The child runs ``q``'s probes (``cases.py``) and writes their outputs as
JSON: numbers, never code or pickles. The grader (which never imports student code) judges them.

The child is limited:

- a wall-clock limit for the whole question, import included (``TIMEOUT_S``), then its whole process group is
  killed, and, when the grader runs as root, every process of the child's own user;
- CPU time, address space (``MEMORY_BYTES``: an answer that allocates more fails, the machine does not run out),
  file size, core dumps and (as root) the number of processes are capped (``resource``);
- its environment is rebuilt from nothing (no ``CS180_*``, no ``PYTHONPATH``; Python runs isolated with ``-I``);
- as root (Gradescope, Docker) it runs as a user of its own (``UID_BASE + question``), in a folder only that user
  can read; the course's own copy (the reference solutions) is made readable by root alone, and files that user
  left in world-writable folders are removed before the next question runs, so one question's process cannot
  pass anything to another's.

Run by a user that is not root, the limits still apply but the child can read what that user can read (the
reference solutions included): run grading in a container as root (README: "Grading runs student code").
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT_S = 60.0            # one question's process, import of torch included
MEMORY_BYTES = 6 << 30      # its address space (torch's import takes under 1 GB; the checks' tensors are small)
MAX_OUTPUT_BYTES = 32 << 20
UID_BASE = 61000            # question i runs as user UID_BASE + i when the grader is root
CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from cs180utils.machinery.assignment.sandbox import child; child(sys.argv[2], int(sys.argv[3]), sys.argv[4])")


class SandboxError(RuntimeError):
    """The question's process gave no outputs: timed out, crashed, or wrote something unreadable."""


# ---- the child ----------------------------------------------------------------------------------------------

def child(qid: str, seed: int, out_path: str) -> None:
    """Run question ``qid``'s probes on ``seed``; write {case name: {"out": ...} | {"error": "..."}} to
    ``out_path``."""
    from cs180utils.machinery.assignment import cases as C  # noqa: PLC0415
    from cs180utils.machinery.assignment.todo import TodoError  # noqa: PLC0415

    results = {}
    for c in C.cases(qid):
        try:
            results[c.name] = {"out": C.encode(C.run_probe(c, seed))}
        except TodoError:
            results[c.name] = {"error": "not written yet"}
        except BaseException as e:   # noqa: BLE001  (a student's SystemExit is a failed case too)
            results[c.name] = {"error": f"{type(e).__name__}: {e}"[:600]}
    with open(out_path, "w") as f:
        json.dump(results, f)


# ---- the grader's side ----------------------------------------------------------------------------------------

def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _limits(timeout_s: float, uid: int | None):
    def apply():
        import resource  # noqa: PLC0415

        os.setsid()
        cpu = int(timeout_s * 4) + 10      # CPU seconds over all threads
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        if uid is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
    return apply


def _kill_user(uid: int) -> None:
    """Kill every process of user ``uid`` (as root: what the child left running, daemons included)."""
    for _ in range(3):
        found = False
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if p.stat().st_uid == uid:
                        os.kill(int(p.name), signal.SIGKILL)
                        found = True
                except (OSError, ProcessLookupError):
                    pass
        if not found:
            return
        time.sleep(0.05)


def world_writable_dirs(roots=("/tmp", "/var/tmp", "/dev/shm", "/run/lock")) -> list[Path]:
    """Folders where a process of another user could leave files for the next question."""
    out = []
    for r in roots:
        p = Path(r)
        if p.is_dir() and not p.is_symlink() and p.stat().st_mode & stat.S_IWOTH:
            out.append(p)
    return out


def _remove_files_of(uid: int, dirs: list[Path]) -> None:
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d, topdown=False):
            for name in filenames + dirnames:
                p = Path(dirpath) / name
                try:
                    if p.lstat().st_uid == uid:
                        if p.is_dir() and not p.is_symlink():
                            shutil.rmtree(p, ignore_errors=True)
                        else:
                            p.unlink()
                except OSError:
                    pass


@functools.cache
def reach_python() -> tuple[str, ...]:
    """As root: let other users reach this Python and its packages (``o+x`` on the folders above them that
    lack it, e.g. ``/root`` 700 -> 711: they can pass through, not list). Returns the folders changed; done once
    per process (the interpreter and its packages do not move)."""
    changed = []
    targets = [Path(os.path.realpath(sys.executable)), Path(sys.prefix), Path(sys.base_prefix)]
    targets += [Path(p) for p in sys.path if p and Path(p).is_dir() and "site-packages" in p]
    for t in targets:
        for d in reversed(t.resolve().parents):
            try:
                mode = d.stat().st_mode
                if not mode & stat.S_IXOTH:
                    os.chmod(d, mode | stat.S_IXOTH)
                    changed.append(str(d))
            except OSError:
                pass
    return tuple(changed)


def _chown_tree(path: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, uid)
        os.chmod(dirpath, 0o700)
        for f in filenames:
            os.chown(os.path.join(dirpath, f), uid, uid)


def run_question(tree: Path, qid: str, index: int, seed: int, timeout_s: float = TIMEOUT_S) -> dict:
    """Run question ``qid``'s probes in the package copy at ``tree`` (a folder holding ``cs180utils/``) in a
    limited process; returns {case name: {"out": decoded outputs} | {"error": str}}. Raises SandboxError."""
    from cs180utils.machinery.assignment import cases as C  # noqa: PLC0415

    tree = Path(tree).resolve()
    work = tree / "work"
    work.mkdir(exist_ok=True)
    out_path = work / "outputs.json"
    uid = UID_BASE + index if is_root() else None
    if uid is not None:
        reach_python()
        _chown_tree(tree, uid)
        for d in [tree.parent, *tree.parent.parents]:   # the way down to the tree: passable, not listable
            if d.stat().st_mode & stat.S_IXOTH == 0:
                os.chmod(d, d.stat().st_mode | stat.S_IXOTH)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "TMPDIR": str(work),
           "LANG": "C.UTF-8", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-I", "-c", CHILD, str(tree), qid, str(seed), str(out_path)],
                            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=_limits(timeout_s, uid))
    try:
        _, err = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        err = b""
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        if uid is not None:
            _kill_user(uid)
    try:
        if timed_out:
            raise SandboxError(f"timed out: question {qid} ran longer than {timeout_s:g} s (import included)")
        if not out_path.is_file() or out_path.is_symlink():
            tail = (err or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise SandboxError(f"the question's process ended (exit code {proc.returncode}) before writing its "
                               f"outputs" + (f": {tail[0][:300]}" if tail[0] else ""))
        if out_path.stat().st_size > MAX_OUTPUT_BYTES:
            raise SandboxError(f"the outputs are larger than {MAX_OUTPUT_BYTES >> 20} MB")
        try:
            raw = json.loads(out_path.read_text())
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            results = {}
            for name, rec in raw.items():
                if isinstance(rec, dict) and "out" in rec:
                    results[str(name)] = {"out": C.decode(rec["out"])}
                elif isinstance(rec, dict) and isinstance(rec.get("error"), str):
                    results[str(name)] = {"error": rec["error"][:600]}
            return results
        except (ValueError, TypeError, RecursionError) as e:
            raise SandboxError(f"the outputs could not be read ({type(e).__name__})") from None
    finally:
        if uid is not None:
            _remove_files_of(uid, world_writable_dirs())
