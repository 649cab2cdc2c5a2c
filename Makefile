# claragen: `make demo` runs the main job, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEMO := build/demo

.PHONY: venv install demo test lint bench gpu-prep clean components corpus fuzz diagnostics-doc

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[run,automl,ray,fl,dev]"
	touch $(STAMP)

install: $(STAMP)

# Synthetic data -> compile the 4.1 spleen example with learning_rate 1e-3 (the config's
# 2e-4 is for the real data's 1260 epochs) -> train it 16 epochs on the CPU (Dice about
# 0.8) -> an AutoML search of it (8 jobs of 16 epochs, 2 CPU workers, TPE, the median
# pruner, MLflow and an Optuna study in the run folder) -> its HTML report -> a check that
# the search learned and pruned (tools/demo_check.py).
DEMO_WINDOW := --data-root $(DEMO)/data --dataset-json $(DEMO)/data/dataset.json \
	--crop-size 32 32 32 --roi-size 48 48 48
demo: $(STAMP)
	rm -rf $(DEMO)
	$(PY) examples/make_synthetic_data.py $(DEMO)/data
	$(VENV)/bin/claragen compile -m examples/spleen_41 -o $(DEMO)/out --set learning_rate=1e-3
	$(PY) $(DEMO)/out/J0001/train.py --epochs 16 --device cpu $(DEMO_WINDOW) \
		--mmar-ckpt-dir $(DEMO)/models
	$(PY) -c "import json; r = json.load(open('$(DEMO)/models/result.json')); \
		print(f\"key metric {r['key_metric']}: best {r['best_value']:.4f} at epoch {r['best_epoch']}\")"
	$(VENV)/bin/claragen automl -m examples/spleen_41 -o $(DEMO)/automl --run-id demo \
		--workers 2 --controller tpe --max-jobs 8 --pruner median \
		--job-args "--epochs 16 --device cpu $(DEMO_WINDOW)"
	$(VENV)/bin/claragen report $(DEMO)/automl/demo
	$(PY) tools/demo_check.py $(DEMO)/automl/demo

# Four workers (pytest-xdist) on two cores, a test file to each at a time (its module
# fixtures made once; the heaviest files first, tests/conftest.py): the end-to-end runs
# wait on subprocesses, servers and polls (with two workers the cores were a third idle),
# and run through one process a worker that has torch and MONAI imported
# (tests/scriptrunner.py). On two idle cores the suite takes about 25 minutes.
test: $(STAMP)
	$(PY) -m pytest -q -n 4 --dist loadfile

# 10,000 hypothesis-mutated configs through `claragen compile` (make test runs 500).
fuzz: $(STAMP)
	CLARAGEN_FUZZ_EXAMPLES=10000 $(PY) -m pytest -q tests/test_fuzz.py

# Rewrite docs/diagnostics.md from the cases in tests/diagnostics/ (a test checks it).
diagnostics-doc: $(STAMP)
	$(PY) tools/gen_diagnostics_doc.py

lint: $(STAMP)
	$(VENV)/bin/ruff check claragen tests examples tools
	$(VENV)/bin/black --check -q claragen tests examples tools

# Compile and smoke-run every in-scope config of ../shared/corpus -> docs/corpus.md
corpus: $(STAMP)
	$(PY) tools/corpus_report.py --corpus ../shared/corpus --out docs/corpus.md

# Compile and run-time benchmarks, side by side -> benchmarks/results.md
bench: $(STAMP)
	$(PY) benchmarks/report.py

# The GPU check's inputs (benchmarks/gpu.sh runs them on a CUDA machine, which has torch
# but no registry): the example's literal and --optimize scripts, its multi_gpu script,
# the data maker and the wheels of MONAI, ignite and nibabel.
GPU = build/gpu
gpu-prep: $(STAMP)
	rm -rf $(GPU) && mkdir -p $(GPU)
	$(VENV)/bin/claragen compile -m examples/spleen_41 -o $(GPU)/out --target plain --optimize
	$(VENV)/bin/claragen compile -m examples/spleen_41 -o $(GPU)/out_ddp --target plain --set multi_gpu=true
	cp examples/make_synthetic_data.py $(GPU)/
	$(PIP) download -q --no-deps -c constraints.txt -d $(GPU)/wheels monai pytorch-ignite nibabel

# Regenerate the checked-in component table from the installed MONAI/torch/ignite.
components: $(STAMP)
	$(PY) tools/gen_components.py claragen/transpiler/data/components.json

clean:
	rm -rf build $(VENV)
