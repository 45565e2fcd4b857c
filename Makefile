# modelchain: `make run` serves every registered service, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LOG_DIR ?= .run/logs

.PHONY: help install system-deps peers algorithmia run front-cert restart test fuzz bench bench-peers service clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

# The virtual environment is (re)built when any pinned requirement changes; the project
# itself is installed in it (editable), so its python imports `common` from anywhere.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## Create the virtual environment and install the pinned dependencies.

run: install ## Start services (SERVICES="a b" or a,b; default all); prints `<name> <url>`. FRONT=1: the HTTPS front too.
	@$(PY) -m tools.launcher --log-dir $(LOG_DIR) $(if $(filter 1 yes true on,$(FRONT)),--front) $(SERVICES)

front-cert: install ## Make the front's self-signed certificate (.run/front/tls/): `make run FRONT=1` and compose use it.
	@$(PY) -m tools.front cert

restart: ## Restart one service started by `make run`, with fresh code: make restart SERVICE=x
	@test -n "$(SERVICE)" || { echo "usage: make restart SERVICE=<name>" >&2; exit 2; }
	@$(PY) -m tools.launcher --log-dir $(LOG_DIR) --restart $(SERVICE)

# The real Open Inference Protocol clients the tests call our services with, each in an
# environment of its own: tritonclient pins an ml-dtypes our TensorFlow refuses, and the
# kserve SDK brings a server stack of its own. Rebuilt when their pins change.
PEERS := .venv-peers/.installed-stamp .venv-kserve/.installed-stamp
.venv-peers/.installed-stamp: tests/peers/requirements-tritonclient.txt
	@test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@
.venv-kserve/.installed-stamp: tests/peers/requirements-kserve.txt
	@test -x .venv-kserve/bin/python || $(PYTHON) -m venv .venv-kserve
	.venv-kserve/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

peers: $(PEERS) ## Install tritonclient and the kserve client for tests/peers (own venvs).

# The unmodified Algorithmia client (its last release, 2.0.5) that tests/services/gateway
# drives the gateway with: it pins an algorithmia-api-client and ADK of its own, so it
# gets its own environment too.
ALGORITHMIA := .venv-algorithmia/.installed-stamp
$(ALGORITHMIA): tests/peers/requirements-algorithmia.txt
	@test -x .venv-algorithmia/bin/python || $(PYTHON) -m venv .venv-algorithmia
	.venv-algorithmia/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

algorithmia: $(ALGORITHMIA) ## Install the algorithmia client for tests/services/gateway (own venv).

system-deps: ## Install the system packages the tests need (chromium, redis, a JRE, kubectl, compose, nginx).
	@bash scripts/install-system-deps.sh

# The schemathesis fuzzing (marker `fuzz`; 3.5 minutes on an idle two-core machine, 8
# under load) is `make fuzz`, so that `make test` stays within its time limit;
# `.ci/run` runs both.
test: install system-deps peers algorithmia ## Run the suite (unit; integration on real gunicorn; browser), all but the fuzzing.
	$(PY) -m pytest -m "not fuzz" $(PYTEST_ARGS)

fuzz: install ## schemathesis against every service's /openapi.json on real gunicorn (4 to 8 min; not in make test).
	$(PY) -m pytest -m fuzz tests/integration/test_schemathesis.py $(PYTEST_ARGS)

# Docker, on a machine where no registry can be reached: the images on a base built from
# Debian's packages, the dependencies from an offline wheel house (tools/containers).
# Both need root (or a running Docker daemon); they install docker.io, docker-compose
# and mmdebstrap from Debian when missing, and start a daemon of their own when none runs.
.PHONY: images compose-test
images: install ## Build modelchain/deps and one image per process unit; print their sizes.
	$(PY) -m tools.containers.images $(IMAGES_ARGS)

compose-test: install ## The chain up in Docker with the generated compose file, scaled, torn down (not in make test).
	$(PY) -m tools.containers.compose_test $(COMPOSE_TEST_ARGS)

# wrk (Debian package) generates the load of the benchmarks; installed when missing and root.
NEED_WRK = command -v wrk >/dev/null || { test "$$(id -u)" = 0 && \
	{ apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }; } || \
	{ echo "make $@ needs wrk: run 'apt-get install -y wrk' as root" >&2; exit 1; }

bench: install ## Run the benchmarks (not tests); results also land in bench-results/.
	@$(NEED_WRK)
	$(PY) -m bench $(BENCH_ARGS)

# BentoML and Ray Serve for `make bench-peers`, in an environment of their own: each
# brings a server stack and pins of its own, and neither belongs in the project's.
# Rebuilt when their pins change (bench/peers/requirements.txt, a pip freeze).
.venv-bench-peers/.installed-stamp: bench/peers/requirements.txt
	@test -x .venv-bench-peers/bin/python || $(PYTHON) -m venv .venv-bench-peers
	.venv-bench-peers/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

bench-peers: install .venv-bench-peers/.installed-stamp ## Ours vs BentoML and Ray Serve, alternately (about 9 min; not in make bench).
	@$(NEED_WRK)
	$(PY) -m bench.peers $(BENCH_ARGS)

.PHONY: batch
batch: install ## Score a JSONL/CSV file: make batch ARGS="text_cleaner tweets.jsonl [--mode ...]"
	@test -n "$(ARGS)" || { $(PY) -m common.batch --help; exit 2; }
	@# make itself exits only 0 or 2, so the job's own status (3: some items failed,
	@# 4: aborted) is printed; scripts call `python -m common.batch` to act on it.
	@$(PY) -m common.batch $(ARGS) || { code=$$?; echo "make batch: the job exited with \
	status $$code (2: bad usage, 3: some items failed, 4: aborted, run it again)" >&2; exit $$code; }

service: install ## Scaffold a new service: make service NAME=my_model
	@test -n "$(NAME)" || (echo "usage: make service NAME=<name>" >&2; exit 2)
	$(PY) -m tools.scaffold $(NAME)
	$(PY) -m deploy.generate

clean: ## Remove the virtual environment and caches.
	rm -rf $(VENV) .venv-peers .venv-kserve .venv-algorithmia .venv-bench-peers .pytest_cache .run bench-results test-artifacts
