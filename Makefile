# modelchain: `make run` serves every registered service, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system-deps run test bench service clean

# The virtual environment is (re)built when any pinned requirement changes.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

install: $(STAMP) ## Create the virtual environment and install the pinned dependencies.

run: install ## Start every registered service; prints `<name> <url>`; Ctrl-C stops all.
	@$(PY) -m tools.launcher $(SERVICES)

system-deps: ## Install the system packages the tests need (chromium, redis-server, a JRE).
	@bash scripts/install-system-deps.sh

test: install system-deps ## Run the suite (unit; integration on real gunicorn; browser).
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install ## Run the benchmarks (not tests); results also land in bench-results/.
	@# wrk (Debian package) generates the load; installed here when missing and root.
	@command -v wrk >/dev/null || { test "$$(id -u)" = 0 && \
		{ apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }; } || \
		{ echo "make bench needs wrk: run 'apt-get install -y wrk' as root" >&2; exit 1; }
	$(PY) -m bench $(BENCH_ARGS)

.PHONY: batch
batch: install ## Score a JSONL/CSV file: make batch ARGS="text_cleaner tweets.jsonl [--mode ...]"
	@test -n "$(ARGS)" || { $(PY) -m common.batch --help; exit 2; }
	$(PY) -m common.batch $(ARGS)

service: install ## Scaffold a new service: make service NAME=my_model
	@test -n "$(NAME)" || (echo "usage: make service NAME=<name>" >&2; exit 2)
	$(PY) -m tools.scaffold $(NAME)
	$(PY) -m deploy.generate

clean: ## Remove the virtual environment and caches.
	rm -rf $(VENV) .pytest_cache .run bench-results test-artifacts
