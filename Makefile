# fashionlab. Quick start: `make sweep` (SGD vs Adam), `make test`. Both install and fetch the data first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA_DIR ?= data
DATA_FILES := $(addprefix $(DATA_DIR)/FashionMNIST/raw/,train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
ARGS ?=

.PHONY: help install data train sweep tensorboard test clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(INSTALLED) ## create .venv and install the project with its test tools

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

data: $(DATA_FILES) ## put FashionMNIST in data/ (files already there, Debian package, or download) and verify it

# Tries the files in data/, Debian's gzip files, then torchvision's download; if all fail and apt-get
# is at hand, installs Debian's dataset-fashion-mnist and tries again.
$(DATA_FILES) &: | $(INSTALLED)
	$(PY) -m fashionlab.data --data-dir $(DATA_DIR) || { command -v apt-get >/dev/null \
	  && echo "Installing Debian's dataset-fashion-mnist with apt-get" \
	  && apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist \
	  && $(PY) -m fashionlab.data --data-dir $(DATA_DIR); }

train: data ## one run with the defaults (SGD); add overrides with ARGS="optimizer=adam optimizer.lr=0.003"
	$(PY) src/train.py $(ARGS)

sweep: data ## SGD vs Adam: python src/train.py -m optimizer=sgd,adam
	$(PY) src/train.py -m optimizer=sgd,adam $(ARGS)

tensorboard: $(INSTALLED) ## serve outputs/ on http://localhost:6006
	$(VENV)/bin/tensorboard --logdir outputs --host localhost --port 6006

test: data ## the test suite (tiny synthetic data, plus checks on the real data)
	$(PY) -m pytest $(ARGS)

clean: ## delete run results in outputs/ and caches; keeps .venv and data/
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean ## also delete .venv and data/
	rm -rf $(VENV) $(DATA_DIR) src/*.egg-info
