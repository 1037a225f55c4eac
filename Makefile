# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETUP_SUM := $(shell cat setup.py | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(SETUP_SUM)
# The test extras (HF transformers for parity oracles, onnx, tensorboard, ...) only for `make
# test` and `make lint`: `make demo` does not wait for them (~half of the package install).
TEST_STAMP := $(VENV)/.installed-test-$(SETUP_SUM)
# torch is pinned to the local CPU build; the constraints file keeps pip from replacing it.
TORCH := torch==2.13.0

.PHONY: install demo test lint data clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	echo "$(TORCH)" > $(VENV)/constraints.txt
	$(PY) -m pip install -q -c $(VENV)/constraints.txt -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q -c $(VENV)/constraints.txt -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

data: install
	$(PY) -m vitdense.datasets.shapes --out data/shapes --skip-existing

demo: data
	$(PY) tools/run_demo.py

# Two pytest workers (pytest-xdist), one per core: most tests run on one thread, so one process
# leaves a core idle (serial 690 s, two workers 468 s, docs/benchmarks.md). --dist loadfile keeps
# each file on one worker, so a module's fixtures are built once. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

# mmengine imports yapf, which rewrites its grammar cache (~/.cache/YAPF) on its first import
# from a venv newer than the cache: two workers doing that at once can read a half-written file
# (EOFError while collecting, seen on a fresh clone), so one import runs first, alone.
test: $(TEST_STAMP)
	$(PY) -c "import mmengine"
	$(PY) -m pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check vitdense tools tests configs

clean:
	rm -rf work_dirs
