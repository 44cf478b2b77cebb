# fashionlab. Quick start: `make sweep` (SGD vs Adam), `make test`. Both install and fetch the data first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NOTEBOOK_INSTALLED := $(VENV)/.notebook-installed
DATA_DIR ?= data
DATA_FILES := $(addprefix $(DATA_DIR)/FashionMNIST/raw/,train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
ARGS ?=
EXPERIMENTS := gd_variants lr_schedules optimizers grid_search
# Replicates (docs/report.md), checked by src/sweep.py: SEEDS=5 runs each configuration over seeds 0-4 (make confirm
# and compare: 5 fresh seeds after the sweep's highest); SEEDS=auto
# (auto:N) adds seeds in rounds until each comparison is decided, at most 20 (N) per configuration; BUDGET=<minutes>
# with auto: no round starts that would end past it.
SEEDS ?=
TOP ?= 3
BUDGET ?=
SWEEP_PY = $(PY) src/sweep.py $(if $(SEEDS),--seeds $(SEEDS)) $(if $(BUDGET),--budget $(BUDGET))

.PHONY: help install data train sweep $(EXPERIMENTS) search best ablation compare confirm resume report samples \
	notebook tensorboard test bench gpu-check slurm-up slurm-down clean distclean

help: ## list the targets
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(INSTALLED) ## create .venv and install the project with its test tools

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

data: $(DATA_FILES) ## put FashionMNIST in data/ (files already there, Debian package, or download) and verify it

# Tries the files in data/, Debian's gzip files, torchvision's download, then (apt-get at hand) installs Debian's
# dataset-fashion-mnist; a line for each source it tries, `error:` only when all of them failed.
$(DATA_FILES) &: | $(INSTALLED)
	$(PY) -m fashionlab.data --data-dir $(DATA_DIR) --apt-get

train: data ## one run with the defaults (SGD); add overrides with ARGS="optimizer=adam optimizer.lr=0.003"
	$(PY) src/train.py $(ARGS)

# Every sweep target is one line over src/sweep.py (make confirm: src/confirm.py, the same fashionlab.command): it
# checks SEEDS and BUDGET, names the sweep's folder, runs the sweep, writes the report even when a job failed, and
# exits non-zero when one did.
sweep: data ## SGD vs Adam, then the report; SEEDS=5: 5 seeds each; SEEDS=auto [BUDGET=min]: seeds until decided
	$(SWEEP_PY) optimizer=sgd,adam $(ARGS)

$(EXPERIMENTS): data
	$(SWEEP_PY) experiment=$@ $(ARGS)
gd_variants: ## Exercise 1.1: batch vs stochastic vs mini-batch GD at equal wall-clock time, then the report; SEEDS, BUDGET
lr_schedules: ## Exercise 1.2: five learning-rate schedules, then the report; SEEDS, BUDGET
optimizers: ## Exercise 1.4: six optimizers over an lr grid, then the report; SEEDS, BUDGET
grid_search: ## Exercise 1.3: optimizer x lr x batch size on validation, the winner tested once; SEEDS, BUDGET

best: data ## the best_mlp recipe over seeds 0,1,2 (SEEDS=N: 0..N-1), each tested once: mean +/- std (docs/best_mlp.md)
	$(SWEEP_PY) experiment=best_mlp $(ARGS)

ablation: data ## the recipe with one ingredient removed or changed per job, 30 epochs, seed 0; SEEDS=N|auto, BUDGET
	$(PY) src/sweep.py --seeds $(or $(SEEDS),1) $(if $(BUDGET),--budget $(BUDGET)) experiment=best_mlp 'ablation=glob(*)' trainer.max_epochs=30 launcher=parallel $(ARGS)

# DeepOBS's protocol: tune each optimizer's lr on validation (one run each), then rerun each one's best over fresh seeds,
# added until decided (SEEDS=auto, its rounds within BUDGET=25 minutes unless said otherwise; docs/compare.md).
compare: data ## SGD, momentum, Adam, RMSprop, AdamW: lr tuned on validation, each best rerun over seeds; SEEDS, BUDGET
	$(PY) src/sweep.py --then-confirm groups --seeds $(or $(SEEDS),auto) $(if $(or $(BUDGET),$(filter auto auto:%,$(or $(SEEDS),auto))),--budget $(or $(BUDGET),25)) experiment=compare $(ARGS)

confirm: data ## rerun the top configurations of a sweep over fresh seeds, then its report: SWEEP=<dir> [TOP=3] [SEEDS=5|auto] [BUDGET]
	@test -n "$(SWEEP)" || { echo "error: SWEEP is missing: make confirm SWEEP=outputs/multirun/<date>/<time> [TOP=3] [SEEDS=5|auto]" >&2; exit 2; }
	$(PY) src/confirm.py $(SWEEP) --top $(TOP) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(BUDGET),--budget $(BUDGET)) $(ARGS)

resume: data ## continue a stopped or lost sweep in its folder, then its report: SWEEP=<dir> [BUDGET=more minutes, for a SEEDS=auto sweep]
	@test -n "$(SWEEP)" || { echo "error: SWEEP is missing: make resume SWEEP=outputs/multirun/<date>/<time>" >&2; exit 2; }
	$(SWEEP_PY) --resume $(SWEEP) $(ARGS)

# A search continues its study when given its sweep folder again (docs/search.md). Its trials are single runs: confirm
# its best ones over seeds with make confirm (SEEDS is refused here, in one line).
search: data ## Exercise 1.3 beyond the grid: Optuna search with pruning in half the grid's epochs, then the report; SWEEP=<dir> continues one
	$(SWEEP_PY) $(if $(SWEEP),--dir $(SWEEP)) experiment=search $(ARGS)

report: data ## report.md + figures for a sweep: SWEEP=outputs/multirun/<date>/<time> (default: newest)
	$(PY) src/report.py $(SWEEP)

samples: data ## one training image per class, 5x2 grid: outputs/class_samples.png
	$(PY) src/report.py --samples-only

# The Jupyter packages are an extra (the base install stays lean): installed here, once.
$(NOTEBOOK_INSTALLED): pyproject.toml | $(INSTALLED)
	$(PY) -m pip install --quiet -e ".[notebook]"
	touch $@

notebook: data $(NOTEBOOK_INSTALLED) ## the sheet's Exercise 2 executed on the real data: outputs/notebooks/exercise2.html
	$(PY) -m nbconvert --to html --execute notebooks/exercise2.ipynb --output-dir outputs/notebooks

# SWEEP=<dir>: that sweep alone, its runs named from the job number, which TensorBoard's run table sorts as a number
# (job 10 after 9); under outputs/ the names start with the sweep's folder and sort as text (10 between 1 and 2).
tensorboard: $(INSTALLED) ## serve outputs/ on http://localhost:6006; SWEEP=<dir>: one sweep, its jobs in number order
	@test -z "$(SWEEP)" -o -f "$(SWEEP)/multirun.yaml" || { echo "error: SWEEP=$(SWEEP): not a sweep folder (no multirun.yaml); a sweep is outputs/multirun/<date>/<time>" >&2; exit 2; }
	$(VENV)/bin/tensorboard --logdir $(or $(SWEEP),outputs) --host localhost --port 6006

test: data ## the test suite on every core (tiny synthetic data, plus checks on the real data); ARGS="-m slow": the slow ones
	$(PY) -m pytest $(ARGS)

bench: $(INSTALLED) ## seconds per epoch: project vs tutorial vs raw loop, best_mlp's speed settings, sweeps; ARGS="--only recipe"
	$(PY) -m bench $(ARGS)

gpu-check: data ## on a CUDA machine (minutes; never timed, no GPU lent yet): GPU fits in 32-true and bf16, no host copies, eval, resume, stacked seeds, bench
	$(PY) -m bench.gpu_check

slurm-up: ## a one-node Slurm cluster on this machine for launcher=slurm (root; installs slurm-wlm, munge; docs/slurm.md)
	scripts/slurm_cluster.sh up

slurm-down: ## cancel the local cluster's jobs and stop its daemons
	scripts/slurm_cluster.sh down

clean: ## delete run results in outputs/ and caches; keeps .venv and data/
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean ## also delete .venv and data/
	rm -rf $(VENV) $(DATA_DIR) src/*.egg-info
