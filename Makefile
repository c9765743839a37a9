# aiposture: every target works from a fresh clone on a fresh machine.
# The venv is created on demand; torch is installed first, from its pinned
# CPU build, so that no resolver ever picks a CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: all install demo test lint typecheck bench clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m aiposture.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# mypy needs a folder named like the package; sdk/ is mapped to aiposture by
# setuptools, so build a tree of links with the installed layout.
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/aiposture
	for f in sdk/*; do ln -s "$$PWD/$$f" build/typecheck/aiposture/; done
	ln -s "$$PWD/embeddings" build/typecheck/aiposture/embeddings
	ln -s "$$PWD/mcp_server" build/typecheck/aiposture/mcp_server
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p aiposture

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf build .mypy_cache .pytest_cache .ruff_cache
