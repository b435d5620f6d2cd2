# ddb-opensearch-sync: every command a developer needs. `make help` lists them.
# The stack runs natively (no Docker) or with docker compose: STACK=native|compose chooses,
# otherwise `make up` uses compose when a Docker engine answers.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.ONESHELL:

# The project's virtualenv, made by one standard-library script run with the system's python3;
# it installs the project and the stack package (the `stackctl` command) and reruns only when
# their inputs change.
TOOLS := .venv/tools/.installed
STACKCTL := .venv/tools/bin/stackctl
PY := .venv/tools/bin/python

.PHONY: help up down status env clean distclean tools deploy destroy demo test lint format bench \
	backfill reconcile reindex replay purge-tombstones chaos

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(TOOLS): pyproject.toml stack/pyproject.toml console/pyproject.toml stack/stackctl/bootstrap.py
	@python3 stack/stackctl/bootstrap.py

up: $(TOOLS) ## start LocalStack and OpenSearch, wait until healthy (installs what it needs on first use)
	@$(STACKCTL) up

down: $(TOOLS) ## stop what `make up` started (keeps data)
	@$(STACKCTL) down

status: $(TOOLS) ## show each service, its port, pid and memory
	@$(STACKCTL) status

env: $(TOOLS) ## print shell-sourceable settings: eval "$(make -s env)"
	@$(STACKCTL) env

clean: $(TOOLS) ## stop the stack and delete its data, logs and deployment state
	@$(STACKCTL) clean

distclean: clean ## also delete the virtualenvs and build outputs
	rm -rf .venv build stack/opensearch-node/target

tools: $(TOOLS) ## create the project's virtualenvs (.venv/tools, .venv/checkov)
	@$(STACKCTL) tools

deploy: tools ## build the functions and apply infra/envs/local to the running stack
	@$(STACKCTL) deploy

destroy: tools ## destroy what `make deploy` created
	@$(STACKCTL) destroy

# The operator commands against the deployed system: `make reconcile ARGS="--repair"`.
# Settings come from `make env` (TABLE_NAME, INDEX_ALIAS, ...); exit codes pass through.
SYNC_CLI = set -a; eval "$$($(STACKCTL) env)"; set +a; .venv/tools/bin/ddb-opensearch-sync

backfill: tools ## load the deployed table into the index (ARGS="--resume" ...)
	@$(SYNC_CLI) backfill $(ARGS)

reconcile: tools ## compare table and index (ARGS="--repair --report drift.json" ...)
	@$(SYNC_CLI) reconcile $(ARGS)

reindex: tools ## rebuild the index without downtime (ARGS="--delete-old" ...)
	@$(SYNC_CLI) reindex $(ARGS)

replay: tools ## re-sync the batches the stream mapping gave up on, from the dead-letter queue
	@$(SYNC_CLI) replay $(ARGS)

purge-tombstones: tools ## delete tombstones older than the stream's 24 h retention
	@$(SYNC_CLI) purge-tombstones $(ARGS)

demo: up deploy ## bring everything up and run the demo
	@$(PY) scripts/demo.py

test: ## run every test against a fresh deployment (starts and stops the stack if it was down)
	@scripts/test.sh

# The chaos suite at full size (`make test` runs a small one): CHAOS_SEED=<n> replays a run.
chaos: up deploy ## random operations and faults against the deployed stack (CHAOS_OPS=...)
	@set -a; eval "$$($(STACKCTL) env)"; set +a
	CHAOS_SIZE=large $(PY) -m pytest tests/chaos -x -q $(PYTEST_ARGS)

bench: up deploy ## run the benchmarks against the deployed stack (BENCH_ARGS=--quick: ~2 min)
	@set -a; eval "$$($(STACKCTL) env)"; set +a
	$(PY) -m bench.run $(BENCH_ARGS)

# fmt reads no CLI configuration; an empty one keeps it quiet where TF_CLI_CONFIG_FILE names a
# missing file.
TF_FMT := TF_CLI_CONFIG_FILE=/dev/null terraform fmt -recursive

lint: tools ## check Python (ruff check, ruff format --check) and Terraform (terraform fmt -check)
	@$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(TF_FMT) -check infra

format: tools ## fix what `make lint` finds where it can (ruff format and --fix, terraform fmt)
	@$(PY) -m ruff format . && $(PY) -m ruff check --fix . && $(TF_FMT) infra
