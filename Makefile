# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)
# torch is pinned to the local CPU build; the constraints file keeps pip from replacing it.
TORCH := torch==2.13.0

.PHONY: install demo test lint data clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	echo "$(TORCH)" > $(VENV)/constraints.txt
	$(PY) -m pip install -q -c $(VENV)/constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

data: install
	$(PY) -m vitdense.datasets.shapes --out data/shapes --skip-existing

demo: data
	$(PY) tools/run_demo.py

test: install
	$(PY) -m pytest tests -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check vitdense tools tests configs

clean:
	rm -rf work_dirs
