# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO ?= sample_images/multi-platform

.PHONY: demo test install samples bench lint fuzz sanitize clean

# setup.py and the C file: the optional C header loop is built by the install
$(VENV)/.installed: pyproject.toml setup.py ocianalyze/_tarscan.c ocianalyze_entry.py
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
	$(VENV)/bin/ruff check ocianalyze ocianalyze_entry.py tests sample_images benchmarks fuzz
	$(VENV)/bin/mypy ocianalyze ocianalyze_entry.py

samples: install
	$(PY) sample_images/make_samples.py sample_images

bench: install
	$(PY) benchmarks/bench.py

# The C header loop under AddressSanitizer and UBSan: an instrumented build in a copy of the
# package and its tests, run from there, through the test suite (less the RSS bound, which
# ASan's shadow memory breaks, and the interop tests). --capture=sys: ASan reports on fd 2,
# which pytest's default capture would swallow when the process aborts.
SAN := build/sanitize
sanitize: install
	rm -rf $(SAN) && mkdir -p $(SAN)
	cp -r ocianalyze ocianalyze_entry.py tests sample_images pyproject.toml README.md $(SAN)/
	rm -f $(SAN)/ocianalyze/*.so
	$(CC) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fPIC -shared \
	  -I"$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	  ocianalyze/_tarscan.c \
	  -o $(SAN)/ocianalyze/_tarscan$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	cd $(SAN) && PYTHONPATH=. ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(abspath $(PY)) -c 'import ocianalyze._tarscan as t; print("sanitized build:", t.__file__)' && \
	  PYTHONPATH=. ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(abspath $(PY)) -m pytest -q --capture=sys -p no:cacheprovider tests -k "not four_gib and not interop"

FUZZ_RUNS ?= 20000

# Seeds are the bundled tarball samples; the corpus grows in .fuzz-corpus (not committed).
fuzz: install
	$(PY) -m pip install -q --config-settings editable_mode=compat -e '.[fuzz]'
	mkdir -p .fuzz-corpus
	cp sample_images/*.tar .fuzz-corpus/
	$(PY) fuzz/fuzz_export.py -runs=$(FUZZ_RUNS) -max_len=65536 -rss_limit_mb=1024 .fuzz-corpus

clean:
	rm -rf $(VENV) build *.egg-info

# The HTML report of the multi-platform sample, and a screenshot of it (Debian's chromium).
.PHONY: demo-html
demo-html: install
	@command -v chromium >/dev/null || { echo "demo-html: needs chromium (apt-get install chromium)"; exit 1; }
	mkdir -p build/demo
	$(VENV)/bin/ocianalyze report --format html $(DEMO) > build/demo/report.html
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1366,2400 \
	  --user-data-dir=build/demo/.chromium --screenshot=build/demo/report.png \
	  "file://$(abspath build/demo/report.html)" 2>/dev/null
