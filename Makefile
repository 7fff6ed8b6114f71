# Two commands do all setup on a fresh machine:
#   make demo   train the base config on the embedded corpus, export to ONNX, generate poems
#   make test   run the test suite
# torch is pinned: an unpinned torch resolves to a multi-GB CUDA build (see README).
PY := .venv/bin/python
TORCH := torch==2.13.0
CONFIG ?= configs/base.yaml
RUN_DIR ?= runs/base

.PHONY: install test demo clean

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: .venv/.installed

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) -m poemnet.corpus stats
	$(PY) train_dist.py --config $(CONFIG) --resume auto
	$(PY) export.py --artifact $(RUN_DIR)/final --quantize int8
	$(PY) infer.py --model $(RUN_DIR)/poemnet.onnx --start 月 --n 3 --seed 1
	$(PY) infer.py --model $(RUN_DIR)/poemnet-int8.onnx --acrostic 春夏秋冬 --seed 1

clean:
	rm -rf runs .pytest_cache
