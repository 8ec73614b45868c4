# lwa: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned here (not in pyproject) so that pip takes the local CPU wheel instead of
# pulling a multi-GB CUDA build; the package metadata keeps a loose range for real users.
TORCH_PIN ?= torch==2.13.0
DEMO_DIR ?= demo-run

.PHONY: install test lint demo completions clean

$(BIN)/lwa: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[dev,faiss,sts]" "$(TORCH_PIN)"
	# The ZeroSpeech ABX reference, test oracle of `lwa abx`: --no-deps because it requires
	# torchaudio (only for its CPC loader; the tests stub it), which has no build for this torch.
	$(BIN)/python -m pip install --quiet --no-deps "zerospeech-libriabx2==0.9.8"
	touch $(BIN)/lwa

install: $(BIN)/lwa

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check lwa_cli tests benchmarks scripts

demo: install
	DEMO_DIR=$(DEMO_DIR) LWA=$(BIN)/lwa bash scripts/demo.sh

completions: install
	for sh in bash zsh fish; do \
	  _LWA_COMPLETE=source_$$sh $(BIN)/lwa > completions/lwa.$$sh; \
	done

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
