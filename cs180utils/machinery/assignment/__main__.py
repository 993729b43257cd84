"""``python -m cs180utils.machinery.assignment COMMAND``: check, questions, student, autograder, grade, submission,
report.

Every command prints, as its last line on stdout, one JSON object (``"seconds"`` included).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path


def _root() -> Path:
    """The repository this ``cs180utils`` was imported from."""
    import cs180utils  # noqa: PLC0415

    return Path(cs180utils.__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cs180utils.machinery.assignment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="run the public checks of questions")
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
    sub.add_parser("progress", help="every question: not written, failing or passing (make test, student edition)")
    r = sub.add_parser("report", help="the project page: one HTML file from the executed notebooks (make report)")
    r.add_argument("--executed", type=Path, default=None,
                   help="the executed notebooks (default: figures/executed, where make run writes them)")
    r.add_argument("--out", type=Path, default=Path("report.html"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()

    if args.command == "progress":
        from cs180utils.machinery.assignment.checking import check  # noqa: PLC0415

        report = check()
        print(repr(report))
        print(json.dumps({**report.summary, "public_only": True}))
        return 0 if report.passed else 1

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
        from cs180utils.machinery.assignment.cases import cases  # noqa: PLC0415
        from cs180utils.machinery.assignment.questions import QUESTIONS, max_score  # noqa: PLC0415

        for q in QUESTIONS:
            print(f"{q.id:16s} {q.points} pt  notebook {q.notebook} · {q.section}: {q.title}")
            for key in q.parts:
                print(f"{'':16s}       {key}")
        print(json.dumps({"questions": len(QUESTIONS), "max_score": max_score(),
                          "points": {q.id: q.points for q in QUESTIONS},
                          "public_checks": len(cases(hidden=False)), "hidden_checks": len(cases(hidden=True)),
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
        from cs180utils.machinery.assignment.grading import SubmissionError  # noqa: PLC0415

        try:
            text, summary = grade(args.submission, args.autograder)
        except (SubmissionError, FileNotFoundError) as e:
            print(f"grade: {e}", file=sys.stderr)
            return 2
        print(text)
        for note in summary["notes"]:
            print(note)
        print(json.dumps(summary))
        return 0

    if args.command == "report":
        from cs180utils.machinery.assignment.report import default_executed, write_report  # noqa: PLC0415

        try:
            out, not_run = write_report(args.executed or default_executed(), args.out)
        except FileNotFoundError as e:
            print(f"report: {e}", file=sys.stderr)
            return 2
        print(f"wrote {out}" + (f"; not run yet: {', '.join(not_run)} (make run ONLY=\"{' '.join(not_run)}\")"
                                if not_run else ""))
        print(json.dumps({"out": str(out.resolve()), "not_run": not_run, "bytes": out.stat().st_size,
                          "seconds": round(time.perf_counter() - t0, 1)}))
        return 0

    if args.command == "submission":
        from cs180utils.machinery.assignment.autograder import submission_zip  # noqa: PLC0415

        out, missing = submission_zip(_root(), args.out)
        if missing:
            print(f"missing (they will be graded as not done): {', '.join(missing)}", file=sys.stderr)
        report = "report.html" in zipfile.ZipFile(out).namelist()
        print(f"wrote {out}" + (" (with report.html, your project page)" if report else
                                " (no report.html: make report writes it from the executed notebooks)")
              + ": upload it to the autograder")
        print(json.dumps({"out": str(out.resolve()), "missing": missing, "report": report,
                          "seconds": round(time.perf_counter() - t0, 1)}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
