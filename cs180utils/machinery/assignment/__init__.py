"""The assignment edition of the workbook: questions, student edition, checks and the otter-grader autograder.

    from cs180utils.machinery.assignment import check; check("volrend")     # a question's public checks, in a notebook

Command line (``python -m cs180utils.machinery.assignment --help``; each command ends with one JSON line):

    check Q [Q ...] | --all          the public checks of questions, in this process
    progress                         every question: not written, failing or passing (the student's make test)
    questions                        the questions, their notebook sections and points
    student [--out dist/student] [--repo-url URL]   build the student edition (make student STUDENT_REPO=URL)
    autograder [--out dist/autograder.zip]   the Gradescope autograder zip (make autograder)
    grade SUBMISSION                 grade a folder or zip locally with otter, no Docker (make grade SUBMISSION=...)
    submission [--out submission.zip]        zip the files a student edits, and report.html (make submission)
    report [--executed DIR] [--out report.html]   the project page from the executed notebooks (make report)

Modules: ``questions`` (the table), ``cases`` (each question's checks: probes and plain-words expectations),
``markers`` (the solution markers, a submission's answers, splicing), ``todo`` (what a stub raises), ``build`` (the
editions), ``grading`` (a submission question by question, otter test files), ``sandbox`` (the limited process a
question's answers run in), ``autograder`` (zip, local grading), ``checking`` (check, progress), ``mutate`` (wrong
answers that must fail a public check; CI), ``nbval_todo`` (notebooks up to their first TODO), ``written`` (the
written questions, the parts of the write-up and their hand-graded points), ``report`` (the project page).
"""


def check(*questions: str):
    """Run the public checks of ``questions`` (all when none) on the files on disk; returns a report that shows
    itself in a notebook. See :mod:`cs180utils.machinery.assignment.checking`."""
    from cs180utils.machinery.assignment.checking import check as _check  # noqa: PLC0415

    return _check(*questions)
