"""``python -m cs180utils.machinery.assignment COMMAND``: check, questions, student, autograder, grade, submission.

Every command prints, as its last line on stdout, one JSON object (``"seconds"`` included).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _root() -> Path:
    from cs180utils.machinery.assignment.checking import repo_root  # noqa: PLC0415

    return repo_root()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cs180utils.machinery.assignment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="run the public tests of questions and score them")
    c.add_argument("questions", nargs="*", help="question names (see the questions command)")
    c.add_argument("--all", action="store_true", help="every question")
    sub.add_parser("questions", help="list the questions")
    s = sub.add_parser("student", help="build the student edition")
    s.add_argument("--out", type=Path, default=Path("dist/student"))
    s.add_argument("--repo-url", default=None,
                   help="the repository the student edition is published in: its notebooks install the package "
                        "from it and its Colab links open it (default: cs180utils.machinery.colab.STUDENT_REPO_URL)")
    a = sub.add_parser("autograder", help="build the Gradescope autograder zip (otter-grader)")
    a.add_argument("--out", type=Path, default=Path("dist/autograder.zip"))
    g = sub.add_parser("grade", help="grade a submission (folder or zip) locally with otter, without Docker")
    g.add_argument("submission", type=Path)
    g.add_argument("--autograder", type=Path, default=Path("dist/autograder.zip"))
    z = sub.add_parser("submission", help="zip the files a student edits, for upload")
    z.add_argument("--out", type=Path, default=Path("submission.zip"))
    r = sub.add_parser("_run", help=argparse.SUPPRESS)   # check's worker: run test references, write outcomes
    r.add_argument("--json", type=Path, required=True)
    r.add_argument("refs", nargs="+")
    args = p.parse_args(argv)
    t0 = time.perf_counter()

    if args.command == "_run":
        from cs180utils.machinery.assignment.grading import run_refs  # noqa: PLC0415

        args.json.write_text(json.dumps(run_refs(Path.cwd(), args.refs)))
        return 0

    if args.command == "check":
        from cs180utils.machinery.assignment.checking import check  # noqa: PLC0415
        from cs180utils.machinery.assignment.questions import QUESTIONS  # noqa: PLC0415

        if not args.questions and not args.all:
            p.error("name questions to check, or --all (the questions command lists them)")
        report = check(*(args.questions or [q.id for q in QUESTIONS]))
        print(repr(report))
        print(json.dumps({**report.summary, "public_only": True}))
        return 0 if report.passed else 1

    if args.command == "questions":
        from cs180utils.machinery.assignment.questions import QUESTIONS, hidden, max_score  # noqa: PLC0415

        for q in QUESTIONS:
            print(f"{q.id:16s} {q.points} pt  notebook {q.notebook} · {q.section}: {q.title}")
            for key in q.parts:
                print(f"{'':16s}       {key}")
        print(json.dumps({"questions": len(QUESTIONS), "max_score": max_score(),
                          "points": {q.id: q.points for q in QUESTIONS},
                          "hidden_tests": sum(len(hidden(q.id)) for q in QUESTIONS),
                          "seconds": round(time.perf_counter() - t0, 1)}))
        return 0

    if args.command == "student":
        from cs180utils.machinery.assignment.build import build  # noqa: PLC0415

        from cs180utils.machinery.colab import STUDENT_REPO_URL  # noqa: PLC0415

        repo_url = args.repo_url or STUDENT_REPO_URL
        if "github.com/" not in repo_url:
            p.error(f"--repo-url {repo_url!r}: give the GitHub address the edition is published at, "
                    f"e.g. https://github.com/my-course/cs180-student (Colab opens notebooks from GitHub)")
        out = build(_root(), args.out.resolve(), repo_url=repo_url)
        print(f"student edition written to {out} for {repo_url} (ASSIGNMENT.md says what to do)")
        print(json.dumps({"out": str(out), "repo_url": repo_url, "seconds": round(time.perf_counter() - t0, 1)}))
        return 0

    if args.command == "autograder":
        from cs180utils.machinery.assignment.autograder import make_autograder  # noqa: PLC0415

        out = make_autograder(_root(), args.out)
        print(f"autograder written to {out}: upload it as a Gradescope programming assignment's autograder "
              f"(students upload the submission.zip of make submission)")
        print(json.dumps({"out": str(out), "bytes": out.stat().st_size,
                          "seconds": round(time.perf_counter() - t0, 1)}))
        return 0

    if args.command == "grade":
        from cs180utils.machinery.assignment.autograder import grade  # noqa: PLC0415

        text, summary = grade(args.submission, args.autograder)
        print(text)
        if summary["missing"]:
            print(f"not in the submission (graded as not done): {', '.join(summary['missing'])}")
        print(json.dumps(summary))
        return 0

    if args.command == "submission":
        from cs180utils.machinery.assignment.autograder import submission_zip  # noqa: PLC0415

        out, missing = submission_zip(_root(), args.out)
        if missing:
            print(f"missing (they will be graded as not done): {', '.join(missing)}", file=sys.stderr)
        print(f"wrote {out}: upload it to the autograder")
        print(json.dumps({"out": str(out.resolve()), "missing": missing,
                          "seconds": round(time.perf_counter() - t0, 1)}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
