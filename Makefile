# Two commands on a fresh clone: `make demo` and `make test`.
# Both create .venv from the pinned requirements in pyproject.toml if needed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
comma  := ,
# The cuda extra (brian2cuda, curand headers) only where nvcc can use it.
EXTRAS := test$(if $(shell command -v nvcc 2>/dev/null),$(comma)cuda)
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(PY) -m figures library --dataset digits --out figures/out
	$(PY) -m experiments desire --preset quick --out results
	$(PY) -m figures desire results/desire
	$(PY) -m experiments ei_ratio --preset quick --out results --no-progress
	$(PY) -m experiments ei_ratio --sweep rate --preset quick --trials 1 --epochs 5 --out results --no-progress
	$(PY) -m experiments ei_ratio --sweep noise --preset quick --trials 1 --epochs 5 --out results --no-progress
	$(PY) -m figures ei_ratio results/ei_ratio_rate_quick results/ei_ratio_noise_quick
	$(PY) -m experiments plif --preset quick --out results --no-progress
	$(PY) -m experiments plif --preset quick --condition lif --out results --no-progress
	$(PY) -m figures plif results/plif
	$(PY) -m experiments stl --preset quick --out results --no-progress
	$(PY) -m experiments stl --preset quick --condition sl --out results --no-progress
	$(PY) -m experiments stl --preset quick --condition tl --out results --no-progress
	$(PY) -m figures stl results/stl
	$(PY) -m experiments balanced_tuning --preset quick --out results --no-progress
	$(PY) -m experiments balanced_tuning --preset quick --static-synapses --out results --no-progress
	$(PY) -m figures balanced_tuning results/balanced_tuning

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf figures/out .pytest_cache
