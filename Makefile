# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MXVENV ?= .venv-mxnet
MXPY := $(MXVENV)/bin/python
export NUMBA_CACHE_DIR ?= $(CURDIR)/.venv/numba-cache
PYTEST_FLAGS ?=
HYPOTHESIS_PROFILE ?= ci
export HYPOTHESIS_PROFILE

.PHONY: demo test test-matrix test-fast test-cuda conformance record-mxnet bench bench-venvs clean venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q 'torch==2.13.0'
	$(PY) -m pip install -q -e '.[dev,plot,progress,cuda,interop,notebook,opencv]'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m ssdref demo

# The main suite, then the numba.cuda kernels under the CUDA simulator in a separate process
# (the simulator patches numba.cuda process-wide, so it must not share a process with the rest).
# Both runs on every core (pytest-xdist; TEST_WORKERS=0 runs them in one process); a module's tests
# stay on one worker (--dist loadscope), so its module-scoped fixtures are built once.
TEST_WORKERS ?= auto
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)
test: $(VENV)/.installed
	$(PY) -m pytest -p no:cacheprovider $(XDIST) $(PYTEST_FLAGS) tests --ignore=tests/cuda --ignore=tests/conformance
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -p no:cacheprovider $(XDIST) $(PYTEST_FLAGS) tests/cuda

# The emulation matrix (ssdref.golden.matrix): golden verify, byte-identical regeneration and the
# kernel == specification tests under other machines' settings (NumPy without AVX-512, one thread,
# no OPENBLAS_CORETYPE, OpenBLAS Haswell/SkylakeX kernels, Numba for a generic CPU, glibc libm
# without FMA). CI runs it after `make test`.
test-matrix: $(VENV)/.installed
	$(PY) -m ssdref.golden.matrix --log matrix-log.txt

$(MXVENV)/.installed: pyproject.toml
	test -x $(MXPY) || $(PYTHON) -m venv $(MXVENV)
	$(MXPY) -m pip install -q --upgrade pip
	$(MXPY) -m pip install -q 'numpy==1.23.5' 'numba==0.60.0' 'mxnet==1.9.1' 'pytest>=7' 'hypothesis>=6.80'
	$(MXPY) -m pip install -q --no-deps -e .
	# GluonCV's SSD models (issue 20): its own dependencies would pull numpy 2 and break mxnet
	$(MXPY) -m pip install -q --no-deps 'gluoncv==0.10.5.post0'
	$(MXPY) -m pip install -q 'numpy==1.23.5' tqdm Pillow 'scipy<1.12' portalocker
	touch $@

# Side-by-side tests against real MXNet 1.9.1; a missing MXNet is a failure here, never a skip.
conformance: $(MXVENV)/.installed
	SSDREF_REQUIRE_MXNET=1 NUMBA_CACHE_DIR=$(CURDIR)/$(MXVENV)/numba-cache $(MXPY) -m pytest -p no:cacheprovider $(PYTEST_FLAGS) tests/conformance
	# The model tests once more on real MXNet: checks the tests and the MXNet-written graph data themselves.
	SSDREF_MODEL_TESTS_ON_MXNET=1 NUMBA_CACHE_DIR=$(CURDIR)/$(MXVENV)/numba-cache $(MXPY) -m pytest -p no:cacheprovider -q tests/model

# Writes MXNet's outputs for the recorded cases into golden/mxnet-1.9.1/.
record-mxnet: $(MXVENV)/.installed
	NUMBA_CACHE_DIR=$(CURDIR)/$(MXVENV)/numba-cache $(MXPY) -m ssdref.backends.record_mxnet golden/mxnet-1.9.1

bench: $(VENV)/.installed
	OMP_NUM_THREADS=2 $(PY) bench/run.py

# The benchmark's other sides: MXNet 1.9.1, and torchvision (its NMS operators ship only in CUDA
# builds beside a CUDA torch, which also runs on a CPU machine: a separate, large venv).
TVVENV ?= .venv-torchvision
bench-venvs: $(MXVENV)/.installed $(TVVENV)/.installed

$(TVVENV)/.installed:
	test -x $(TVVENV)/bin/python || $(PYTHON) -m venv $(TVVENV)
	$(TVVENV)/bin/python -m pip install -q 'torch==2.14.1' 'torchvision==0.29.1' numpy
	touch $@

clean:
	rm -rf $(VENV) $(MXVENV) $(TVVENV) $(TVMVENV) build *.egg-info

# Apache TVM 0.27 (Relax: tvm.relax.frontend.onnx, tvm.compile for llvm, untuned) in its own venv:
# ssdref's ONNX exports of the tiny SSD and SSD300 (calibrated weights, ssdref.model.test_weights)
# compiled by TVM, compared with the tie-aware comparator, and `ssdref divergence --runtime tvm`.
# A missing TVM is a failure here, never a skip. About 3-4 minutes on 2 cores.
TVMVENV ?= .venv-tvm
TVMPY := $(TVMVENV)/bin/python
.PHONY: conformance-tvm

$(TVMVENV)/.installed: pyproject.toml
	test -x $(TVMPY) || $(PYTHON) -m venv $(TVMVENV)
	$(TVMPY) -m pip install -q --upgrade pip
	$(TVMPY) -m pip install -q 'apache-tvm==0.27.0.post1' 'onnx>=1.14'
	$(TVMPY) -m pip install -q -e '.[dev]'
	touch $@

conformance-tvm: $(TVMVENV)/.installed
	SSDREF_REQUIRE_TVM=1 NUMBA_CACHE_DIR=$(CURDIR)/$(TVMVENV)/numba-cache $(TVMPY) -m pytest -p no:cacheprovider $(PYTEST_FLAGS) tests/tvm
	NUMBA_CACHE_DIR=$(CURDIR)/$(TVMVENV)/numba-cache $(TVMPY) -m ssdref.backends.tvm_conformance
