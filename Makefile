# The two commands of the README:
#   make course   set everything up, then open JupyterLab on the course (NO_BROWSER=1: do not open a browser)
#   make test     set everything up, then run every test (pytest for the package, nbval for the notebooks)
#   make exercises   regenerate exercises/ from solutions/ (solution code replaced by stubs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
# JupyterLab refuses to run as root unless told to (containers often run as root).
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
FIRST_NOTEBOOK := $(firstword $(sort $(wildcard course/00_*.ipynb)) course)

.PHONY: course test setup-course setup-test exercises clean

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

test: setup-test
	$(BIN)/python -m pytest

exercises: setup-course
	$(BIN)/python -m minivit.grading release

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
