# Two entry points: `make demo` and `make test`. Both build .venv from scratch if needed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test venv lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch 2.13.0 CPU is the pinned reference build (a wheel on this machine's disk / PyPI)
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# .streamlit/config.toml: 127.0.0.1:8501, no usage statistics, no file watcher, no Deploy button
demo: $(STAMP)
	$(VENV)/bin/cardioliquid data pull demo
	$(VENV)/bin/streamlit run app.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
