# The two commands of the README:
#   make course   set everything up, then open JupyterLab on the course (NO_BROWSER=1: do not open a browser)
#   make test     set everything up, then run every test: pytest for the package and nbval for the notebooks
#                 with this CPU's kernels, nbval again with other CPU kernels, and the package tests again
#                 against the lowest torch, torchvision and timm that pyproject.toml admits
#   make exercises   regenerate exercises/ from solutions/ (solution code replaced by stubs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
# JupyterLab refuses to run as root unless told to (containers often run as root).
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
FIRST_NOTEBOOK := $(firstword $(sort $(wildcard course/00_*.ipynb)) course)
# Other CPU kernels, as on another learner's machine: every float sum in another order (see tests/other_kernels.env).
OTHER_KERNELS := $(shell grep -v '^\#' tests/other_kernels.env)
# The lowest versions pyproject.toml admits, read from its ">=" floors: "torch>=2.4" -> torch==2.4.
LOWEST_VENV ?= .venv-lowest
LOWEST := $(shell sed -nE 's/^ *"(torch|torchvision|timm)>=([0-9.]+)".*/\1==\2/p' pyproject.toml)

.PHONY: course test test-native test-other-kernels test-lowest setup-course setup-test exercises clean

setup-course: $(VENV)/.course-installed
setup-test: $(VENV)/.test-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.course-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[course]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.course-installed

course: setup-course
	$(BIN)/jupyter lab --port=$(PORT) $(AS_ROOT) $(if $(NO_BROWSER),--no-browser) $(FIRST_NOTEBOOK)

test: test-native test-other-kernels test-lowest

test-native: setup-test
	$(BIN)/python -m pytest

# The stored outputs of the notebooks must not depend on the CPU: the same notebooks, other kernels.
test-other-kernels: setup-test
	env $(OTHER_KERNELS) $(BIN)/python -m pytest -n 2 --dist loadfile course solutions

$(LOWEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	printf '%s\n' $(LOWEST) > $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c $(LOWEST_VENV)/lowest.txt -e ".[test]"
	touch $@

# The package's tests (the notebooks need not run there) with the lowest declared versions.
test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -m pytest -o addopts=-ra tests

exercises: setup-course
	$(BIN)/python -m minivit.grading release

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache .hypothesis
