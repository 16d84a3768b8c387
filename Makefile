# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO ?= sample_images/multi-platform

.PHONY: demo test install samples bench lint fuzz clean

# setup.py and the C file: the optional C header loop is built by the install
$(VENV)/.installed: pyproject.toml setup.py ocianalyze/_tarscan.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain path entry instead of an import hook, 8 ms less at every start
	$(PY) -m pip install -q --config-settings editable_mode=compat -e '.[test]'
	# pip byte-compiles regular installs, not editable ones: without this, a shell with
	# PYTHONDONTWRITEBYTECODE set compiles every module again at every start (15 ms)
	$(PY) -m compileall -q ocianalyze
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/ocianalyze inspect sample_images/oci-layout
	$(VENV)/bin/ocianalyze report $(DEMO)

test: install lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check ocianalyze tests sample_images benchmarks fuzz
	$(VENV)/bin/mypy ocianalyze

samples: install
	$(PY) sample_images/make_samples.py sample_images

bench: install
	$(PY) benchmarks/bench.py

FUZZ_RUNS ?= 20000

# Seeds are the bundled tarball samples; the corpus grows in .fuzz-corpus (not committed).
fuzz: install
	$(PY) -m pip install -q --config-settings editable_mode=compat -e '.[fuzz]'
	mkdir -p .fuzz-corpus
	cp sample_images/*.tar .fuzz-corpus/
	$(PY) fuzz/fuzz_export.py -runs=$(FUZZ_RUNS) -max_len=65536 -rss_limit_mb=1024 .fuzz-corpus

clean:
	rm -rf $(VENV) build *.egg-info
