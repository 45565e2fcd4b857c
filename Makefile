# modelchain: `make run` serves every registered service, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test bench service clean

# The virtual environment is (re)built when any pinned requirement changes.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

install: $(STAMP) ## Create the virtual environment and install the pinned dependencies.

run: install ## Start every registered service; prints `<name> <url>`; Ctrl-C stops all.
	@$(PY) -m common.launcher $(SERVICES)

test: install ## Run the test suite (unit, integration with real gunicorn processes).
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install ## Run the benchmarks (not tests); results also land in bench-results/.
	$(PY) -m bench $(BENCH_ARGS)

service: install ## Scaffold a new service: make service NAME=my_model
	@test -n "$(NAME)" || (echo "usage: make service NAME=<name>" >&2; exit 2)
	$(PY) -m common.scaffold $(NAME)

clean: ## Remove the virtual environment and caches.
	rm -rf $(VENV) .pytest_cache .run bench-results test-artifacts
