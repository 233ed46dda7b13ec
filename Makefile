# Two commands on a fresh machine: `make build` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FACTS_STAMP := $(VENV)/.facts-stamp

.PHONY: build test check lint bench gallery clean stats watch facts

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/dldeck build

check: $(STAMP)
	$(BIN)/dldeck check

stats: $(STAMP)
	$(BIN)/dldeck stats

watch: $(STAMP)
	$(BIN)/dldeck watch

test: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/python -m pytest -n auto

# The framework facts of content/_facts read from PyTorch, Keras 3 and TensorFlow themselves.
$(FACTS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,facts]'
	touch $(FACTS_STAMP)

facts: $(FACTS_STAMP)
	KERAS_BACKEND=torch $(BIN)/python -m pytest -p no:xdist tests/test_framework_facts.py

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts

gallery: $(STAMP)
	$(BIN)/python scripts/gallery.py

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf build
