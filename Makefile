# Two commands on a fresh machine: `make build` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Anki's own MathJax (npm mathjax-full, the same file aqt ships) for the formula check; run by Node.js.
MATHJAX := tools/mathjax/node_modules/.installed-stamp

.PHONY: build test check lint bench gallery clean stats watch mathjax

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Node.js and npm come from Debian when missing (as root, as in CI); without them the formula check
# prints a one-line note and skips Anki's MathJax.
$(MATHJAX): tools/mathjax/package.json tools/mathjax/package-lock.json
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; fi
	@if command -v npm >/dev/null; then \
		npm ci --prefix tools/mathjax --no-audit --no-fund --loglevel=error && touch $(MATHJAX); \
	else echo "note: no npm (and not root to install it): Anki's MathJax check will be skipped"; fi

mathjax: $(MATHJAX)

build: $(STAMP) $(MATHJAX)
	$(BIN)/dldeck build

check: $(STAMP) $(MATHJAX)
	$(BIN)/dldeck check

stats: $(STAMP)
	$(BIN)/dldeck stats

watch: $(STAMP)
	$(BIN)/dldeck watch

test: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/python -m pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts

gallery: $(STAMP)
	$(BIN)/python scripts/gallery.py

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf build
