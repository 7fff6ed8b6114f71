# Two commands do all setup on a fresh machine:
#   make demo   train the base config on the embedded corpus, export to ONNX, generate poems
#   make test   run the test suite
# .venv gets torch (pinned; from TORCH_INDEX when set), then this package with its train and dev
# extras. On PyPI, Linux x86-64 torch wheels are CUDA builds; a CPU-only machine can save gigabytes:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Writing poems needs none of that: `pip install .` installs onnxruntime, numpy and OpenCC only.
PY := .venv/bin/python
TORCH := torch==2.13.0
TORCH_INDEX ?=
CONFIG ?= configs/base.yaml
RUN_DIR ?= runs/base

.PHONY: install test test-fast lint demo bench web serve inference-install-check release clean

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $@

install: .venv/.installed

test: install
	$(PY) -m pytest -q

# The inner loop: everything but the training runs, launched processes and the browser (about a minute).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

demo: install
	$(PY) -m poemnet.builders.corpus stats
	$(PY) train_dist.py --config $(CONFIG) --resume auto
	$(PY) export.py --artifact $(RUN_DIR)/final --quantize int8
	$(PY) infer.py --model $(RUN_DIR)/poemnet.onnx --start 月 --n 3 --seed 1
	$(PY) infer.py --model $(RUN_DIR)/poemnet-int8.onnx --acrostic 春夏秋冬 --seed 1 --rhyme --tones

bench: install
	$(PY) bench/run.py

# The page (web/dist): the shipped model, its metadata and onnxruntime-web from the pinned npm package.
# It needs the inference install only (onnxruntime, numpy, OpenCC; no torch) and Node 18+ with npm:
# .venv where `make install` made it, else a small .venv-web.
WEB_PY := $(if $(wildcard .venv/.installed),$(PY),.venv-web/bin/python)
.venv-web/.installed: pyproject.toml
	python3 -m venv .venv-web
	.venv-web/bin/python -m pip install --quiet -e .
	touch $@

web: $(if $(wildcard .venv/.installed),,.venv-web/.installed)
	@command -v npm >/dev/null || { echo "error: make web needs Node.js 18 or later with npm (apt-get install nodejs npm)" >&2; exit 2; }
	cd web && npm ci --no-audit --no-fund --silent
	$(WEB_PY) web/build.py

serve:
	python3 -m http.server -d web/dist --bind 127.0.0.1 8000

# What a user without the clone gets: the wheel (package, data and the shipped model; no runs/ or
# web/), installed into a fresh venv with the core dependencies only (no torch), then the command
# and the Python API run from a folder outside the clone.
INFER_VENV := $(CURDIR)/.venv-infer
WHEEL_DIR := $(CURDIR)/.whl
inference-install-check:
	rm -rf $(INFER_VENV) $(WHEEL_DIR) build && python3 -m venv $(INFER_VENV)
	$(INFER_VENV)/bin/python -m pip wheel --quiet --no-deps -w $(WHEEL_DIR) .
	$(INFER_VENV)/bin/python -m pip install --quiet $(WHEEL_DIR)/poemnet-*.whl
	$(INFER_VENV)/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"
	rm -rf /tmp/poemnet-check && mkdir /tmp/poemnet-check && cd /tmp/poemnet-check && \
		$(INFER_VENV)/bin/poemnet write --start 月 --seed 1 && \
		$(INFER_VENV)/bin/poemnet write --form 七律 --rhyme --tones --no-repeat --novel --seed 1 --json >/dev/null && \
		$(INFER_VENV)/bin/python -m poemnet list rhymes >/dev/null && \
		$(INFER_VENV)/bin/poemnet evaluate --n 20 >/dev/null && \
		! $(INFER_VENV)/bin/poemnet train 2>train.err && grep -q "pip install 'poemnet\[train\]'" train.err && \
		$(INFER_VENV)/bin/python -c "import poemnet; p = poemnet.write(form='七律', start='月', rhyme=True, tones=True, seed=1, n=2); \
			assert 'site-packages' in poemnet.__file__ and len(p) == 2 and p[1].text[0] == '月', p; print(p[1])"
	rm -rf $(INFER_VENV) $(WHEEL_DIR) build /tmp/poemnet-check

# How the shipped model was made (models/MODEL_CARD.md): build the full corpus, train, export, evaluate.
release: install
	test -f data/poems.jsonl.gz || (npm pack chinese-poetry@2.0.1 --pack-destination /tmp && \
		$(PY) -m poemnet.builders.corpus build --source /tmp/chinese-poetry-2.0.1.tgz --out data/poems.jsonl.gz)
	$(PY) train_dist.py --config configs/release.yaml --resume auto
	$(PY) export.py --artifact runs/release/final --out runs/release/poemnet-release.onnx --quantize int8
	$(PY) scripts/model_card.py --run-dir runs/release --model runs/release/poemnet-release-int8.onnx

clean:
	rm -rf runs .pytest_cache .venv-infer .whl build web/dist
