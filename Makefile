# `make demo` and `make test` each set up .venv on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The project's machines keep the data beside the checkout; elsewhere GENZOO_DATA or the user cache dir is used.
ifneq ($(wildcard ../shared/data),)
export GENZOO_DATA ?= $(abspath ../shared/data)
endif

.PHONY: setup demo test bench figures clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# Main job: a sample grid from every shipped checkpoint, then the results table (test metrics recomputed).
demo: setup
	$(PY) -m genzoo.sample --all --out samples
	$(PY) -m genzoo.evaluate

test: setup
	$(PY) -m pytest -q

# The front page's picture and the docs' previews and learning curves, from the shipped checkpoints.
figures: setup
	$(PY) -m genzoo.figures

# Side-by-side speed and quality tables (the bench extra adds the peer package measured against).
# PEER=/path/to/pytorch-generative adds the training comparison against that checkout.
bench: setup
	$(PY) -m pip install -q -c constraints.txt -e ".[bench]"
	$(PY) -m bench.ar_sampling
	$(PY) -m bench.ar_training
	$(if $(PEER),$(PY) -m bench.peer_training --peer $(PEER))
	$(PY) -m bench.cpu_throughput
	$(PY) -m bench.ar_bf16
	$(PY) -m bench.quantizers
	$(PY) -m bench.fourier
	$(PY) -m bench.ign_forms
	$(PY) -m bench.preemption

clean:
	rm -rf $(VENV) samples runs
