# The workbook's two commands. Both set everything up on a fresh machine first (a .venv with the pinned
# requirements and this package installed in editable mode), then do their job.
#   make run    execute the ten notebooks headless, in order, writing figures/ (default profile)
#   make test   unit tests, every notebook under nbval, and the JupyterLab browser test, in the smoke profile;
#               then every notebook in the capped full profile (make test-capped)
#   make lab    JupyterLab on notebooks/ with this environment as its kernel (how students work)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cs180-installed
# a relative CS180_DATA_DIR (as in CI: ../shared/data) is made absolute, since notebooks run in notebooks/
ifdef CS180_DATA_DIR
export CS180_DATA_DIR := $(abspath $(CS180_DATA_DIR))
endif

.PHONY: run test test-capped test-browser lab setup clean-outputs bench results determinism

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# make run PROFILE=smoke|cpu|full overrides the default profile; ONLY="03 04" runs those notebooks;
# PARAMS="-p VIDEO_FRAMES 10 -p SEED 1" sets parameters after each notebook's parameters cell
run: setup
	$(PY) -m cs180utils.machinery.workbook run $(if $(PROFILE),--profile $(PROFILE)) $(if $(ONLY),--only $(ONLY)) $(PARAMS)

test: setup
	CS180_PROFILE=smoke $(PY) -m pytest tests notebooks
	$(MAKE) --no-print-directory test-capped

# every notebook in the full profile's sizes with steps, epochs, data and video frames capped (cs180utils/machinery/capped.py),
# in a fresh temporary folder: a crash in a full-profile code path fails CI
test-capped: setup
	$(PY) -m cs180utils.machinery.workbook run --capped

# the browser test alone (needs Debian's chromium: apt-get install chromium)
test-browser: setup
	CS180_PROFILE=smoke $(PY) -m pytest tests/browser

# JupyterLab for working through the notebooks (set CS180_PROFILE / CS180_DATA_DIR before, if you like)
lab: setup
	$(PY) -m jupyterlab notebooks/

# strip outputs from notebooks before committing
clean-outputs: setup
	$(PY) -m cs180utils.machinery.workbook strip

bench: setup
	$(PY) benchmarks/heatmaps.py
	$(PY) benchmarks/field2d.py
	$(PY) benchmarks/nerf.py
	$(PY) benchmarks/render.py

# README's results table: run each command it lists (ROWS="nose nerf-fast" for some), record, rewrite the table
results: setup
	$(PY) benchmarks/results.py $(if $(ROWS),--only $(ROWS))

# each results command, step-capped, twice: same seed, same numbers?
determinism: setup
	$(PY) benchmarks/results.py --determinism $(if $(ROWS),--only $(ROWS))

# The assignment edition (cs180utils/machinery/assignment; ASSIGNMENT.md in the student edition says how students work):
#   make student                      the student edition in dist/student/: stubs in place of the marked solutions,
#                                     its notebooks installing from colab.STUDENT_REPO_URL (STUDENT_REPO=URL: another)
#   make autograder                   dist/autograder.zip, the Gradescope autograder (otter-grader)
#   make grade SUBMISSION=path        grade a student's folder or zip locally with otter (no Docker)
#   make submission                   (students) submission.zip with the files they edit (and report.html)
#   make report                       (students) report.html, the project page, from figures/executed (make run)
.PHONY: student autograder grade submission report
student: setup
	$(PY) -m cs180utils.machinery.assignment student --out dist/student $(if $(STUDENT_REPO),--repo-url $(STUDENT_REPO))

# dist/autograder.zip holds the package (its checks included) and the grading pins: rebuilt only when one of them
# changed (make grade reuses an up-to-date one; delete it to force a rebuild)
AUTOGRADER_INPUTS := $(shell find cs180utils -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null) \
                     requirements-grading.txt
autograder: dist/autograder.zip
dist/autograder.zip: $(AUTOGRADER_INPUTS) | $(STAMP)
	$(PY) -m cs180utils.machinery.assignment autograder --out $@

ifneq ($(filter grade,$(MAKECMDGOALS)),)
ifndef SUBMISSION
$(error give the submission: make grade SUBMISSION=path/to/folder-or.zip)
endif
endif
grade: dist/autograder.zip
	$(PY) -m cs180utils.machinery.assignment grade $(SUBMISSION) --autograder dist/autograder.zip

submission: setup
	$(PY) -m cs180utils.machinery.assignment submission --out submission.zip

report: setup
	$(PY) -m cs180utils.machinery.assignment report --out report.html
