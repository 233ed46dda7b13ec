# Two commands on a fresh machine: `make build` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FACTS_STAMP := $(VENV)/.facts-stamp
# Anki's own MathJax (npm mathjax-full, the same file aqt ships) for the formula check; run by Node.js.
MATHJAX := tools/mathjax/node_modules/.installed-stamp

# The real clients the tests drive (tests/clients/): Anki desktop under Xvfb, and Debian's Chromium.
CLIENTS := .venv-clients/.installed-stamp
CLIENT_PYTHON_PACKAGES := "aqt[qt6]==26.9.3" "playwright==1.65.2"
CLIENT_DEBIAN_PACKAGES := xvfb xauth chromium fonts-noto-cjk libxkbcommon-x11-0 libxcomposite1 libxdamage1 \
	libxrandr2 libgbm1 libasound2 libegl1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
	libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbfile1 libxtst6 \
	libxshmfence1

.PHONY: build test check lint bench gallery clean stats watch facts mathjax clients

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

# Debian packages as root (CI runs as root); otherwise the real-client tests skip, saying what is missing.
$(CLIENTS):
	@missing=$$(for p in $(CLIENT_DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "note: real-client tests will skip: not root, missing Debian packages:" $$missing; fi; \
	fi
	$(PYTHON) -m venv .venv-clients
	.venv-clients/bin/python -m pip install --quiet --upgrade pip
	.venv-clients/bin/python -m pip install --quiet $(CLIENT_PYTHON_PACKAGES)
	touch $(CLIENTS)

clients: $(CLIENTS)

build: $(STAMP) $(MATHJAX)
	$(BIN)/dldeck build

check: $(STAMP) $(MATHJAX)
	$(BIN)/dldeck check

stats: $(STAMP)
	$(BIN)/dldeck stats

watch: $(STAMP)
	$(BIN)/dldeck watch

# Checks that can run here are required to run: a missing client fails instead of skipping.
test: $(STAMP) $(MATHJAX) $(CLIENTS)
	$(BIN)/ruff check src tests scripts
	DLDECK_REQUIRE_MATHJAX=$$([ -f $(MATHJAX) ] && echo 1) \
	DLDECK_REQUIRE_CLIENTS=$$(command -v xvfb-run >/dev/null && [ -x /usr/bin/chromium ] && echo 1) \
		$(BIN)/python -m pytest -n auto --dist loadgroup --durations=15

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
