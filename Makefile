# The two commands of the README: `make run` (set up and serve) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# google-genai 2.x beside the venv's 3.x (which no longer sends generate_videos to the Gemini API), for
# the test that drives the mock's Veo with it in a subprocess (tests/mock_upstream/test_mock_upstream_tasks_b.py).
GENAI2 := $(VENV)/google-genai-2
# The suite runs in this many processes (pytest-xdist), each module whole in one of them (module-scoped gateways).
PYTEST_WORKERS ?= 2

.PHONY: run test lint install

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(GENAI2)/.installed: $(BIN)/.installed
	$(BIN)/pip install -q --no-deps --upgrade --target $(GENAI2) 'google-genai>=2,<3'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/omnirouter serve $(if $(CONFIG),--config $(CONFIG))

test: install $(GENAI2)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy
