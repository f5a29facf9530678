# The two commands of the README:
#   make course   set everything up, then open JupyterLab on the course (NO_BROWSER=1: do not open a browser)
#   make test     set everything up, then run every test: ruff and pytest for the package, nbval for the notebooks
#                 with this CPU's kernels, nbval again with other CPU kernels, and the package tests again
#                 against the lowest torch, torchvision and timm that pyproject.toml admits
#   make exercises   regenerate exercises/ from solutions/ (solution code replaced by stubs)
#   make refresh NOTEBOOK=course/03_...ipynb   replace a learner's working copy by the current version
#                 (the learner's copy is kept beside it)
#   make book     the course as a website, from the stored outputs (no notebook is run): out/book/index.html
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
# JupyterLab refuses to run as root unless told to (containers often run as root).
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# A learner works in working copies under mywork/ (ignored by git; see minivit/workspace.py), so that running
# and editing the notebooks never changes a tracked file and `git pull` never conflicts with their work.
WORK ?= mywork
FIRST_NOTEBOOK := $(firstword $(sort $(wildcard course/00_*.ipynb)) course)
# Other CPU kernels, as on another learner's machine: every float sum in another order (see tests/other_kernels.env).
OTHER_KERNELS := $(shell grep -v '^\#' tests/other_kernels.env)
# The lowest versions pyproject.toml admits, read from its ">=" floors: "torch>=2.4" -> torch==2.4.
LOWEST_VENV ?= .venv-lowest
LOWEST := $(shell sed -nE 's/^ *"(torch|torchvision|timm)>=([0-9.]+)".*/\1==\2/p' pyproject.toml)

.PHONY: course refresh book test test-both-kernels test-native test-other-kernels test-lowest setup-course setup-test exercises clean

setup-course: $(VENV)/.course-installed
setup-test: $(VENV)/.test-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# After installing, torch, torchvision and timm must import and run (minivit/environment.py; run as a file, so
# that a torch that cannot be imported is explained too): otherwise it says what is wrong and how to fix it, and
# make stops, installs again next time and checks again.
CHECK_ENVIRONMENT := $(BIN)/python -I minivit/environment.py

$(VENV)/.course-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[course]"
	$(CHECK_ENVIRONMENT)
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(CHECK_ENVIRONMENT)
	touch $@ $(VENV)/.course-installed

# Rooted at mywork/ (course/ and exercises/ both in reach), opening notebook 00; the address printed (and
# opened) is that of notebook 00, with NO_BROWSER=1 too. The course's JupyterLab takes its default settings from
# .jupyter/lab/settings/overrides.json (no "official Jupyter news?" question); the learner's own settings, and
# every other JupyterLab, are left as they are.
course: setup-course
	$(BIN)/python -m minivit.workspace --work $(WORK) prepare
	$(BIN)/jupyter lab --port=$(PORT) $(AS_ROOT) $(if $(NO_BROWSER),--no-browser) \
		--ServerApp.root_dir=$(WORK) --LabApp.default_url=/lab/tree/$(FIRST_NOTEBOOK) \
		--LabApp.app_settings_dir=$(CURDIR)/.jupyter/lab/settings

refresh: setup-course
	$(BIN)/python -m minivit.workspace --work $(WORK) refresh $(NOTEBOOK)

# The course as a website, from the outputs stored in the notebooks (none is run): out/book/index.html.
book: setup-test
	$(BIN)/sphinx-build -q -b html book out/book

test: test-both-kernels test-lowest

# Each environment keeps its own matplotlib font cache: a cache shared through ~/.cache names the font files of
# whichever environment wrote it, and a test run must not depend on another environment's files.
test-both-kernels test-native test-other-kernels: export MPLCONFIGDIR = $(CURDIR)/$(VENV)/matplotlib
test-lowest: export MPLCONFIGDIR = $(CURDIR)/$(LOWEST_VENV)/matplotlib

# ruff, then everything in one run on two workers: the package's and the grader's tests, and every notebook twice,
# with this CPU's kernels and with other CPU kernels (--other-kernels, conftest.py: every float sum in another order,
# as on another learner's CPU, so a stored output that changes depends on the CPU). Each file runs on one worker,
# and the files that start kernels, servers or a browser one at a time (tests/conftest.py), so that the grader's own
# kernels do not starve; one run lets the two workers share the passes.
test-both-kernels: setup-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile --other-kernels

# The two passes of test-both-kernels one at a time, for whoever works on one of them.
test-native: setup-test
	$(BIN)/python -m pytest -n 2 --dist loadfile
test-other-kernels: setup-test
	env $(OTHER_KERNELS) $(BIN)/python -m pytest -n 2 --dist loadfile course solutions

$(LOWEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	printf '%s\n' $(LOWEST) > $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c $(LOWEST_VENV)/lowest.txt -e ".[test]"
	touch $@

# With the lowest declared versions, only the tests whose outcome depends on torch's, torchvision's or timm's
# version (marked `versions`): the grader, the sandbox, `make course`, the browser and the website run the same
# code whatever the version, and test-both-kernels runs them. On two workers, as test-both-kernels.
test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -m pytest -o addopts=-ra -m versions -n 2 --dist loadfile tests

exercises: setup-course
	$(BIN)/python -m minivit.instructor release

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache .hypothesis
