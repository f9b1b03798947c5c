# DM Reader. `make run` to use it against the local X API, `make dev` to work on it, `make test`
# for everything CI runs.
# The work is done by small scripts in scripts/, each usable on its own.
SHELL := /bin/bash
PORT ?= 8000
SANDBOX_PORT ?= 8765
PY := .venv/bin/python
export PORT SANDBOX_PORT

.PHONY: run dev test test-fast lint bench scaleout clean venv venv-dev

# Runtime (requirements.txt) or development (requirements-dev.txt) venv; pip runs only when a
# requirements file changed (stamp files in .venv/).
venv:
	@scripts/ensure-venv requirements.txt
venv-dev:
	@scripts/ensure-venv requirements-dev.txt

# DM Reader as in production (DEBUG off, gunicorn, whitenoise) on xsandbox (:SANDBOX_PORT) with
# the task worker, at http://127.0.0.1:PORT/; logs in var/log/, secrets in var/secrets.env.
# Ctrl-C stops all.
run: venv
	@scripts/run

# The same three processes for development: runserver with autoreload, DEBUG on, logs on the console.
dev: venv
	@scripts/run --dev

# From scratch: venv, Chromium, ruff, pytest on SQLite, then pytest on a throwaway PostgreSQL 15.
test:
	@scripts/test

# SQLite only, no browser: the quick loop while editing. Extra pytest args: make test-fast ARGS=-x
test-fast: venv-dev
	$(PY) -m pytest -m "not browser" $(ARGS)

# The scale-out run (also the last step of make test): PostgreSQL, two app servers, three workers
# and two schedulers against 300 sandbox accounts, all signed in and synced, one worker killed
# mid-sync; checks the caches and prints accounts synced per minute. About 3 minutes.
scaleout: venv-dev
	@scripts/scaleout $(ARGS)

lint: venv-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# Every bench/*.py in turn (SQLite; for PostgreSQL: scripts/with-postgres make bench).
bench: venv-dev
	@shopt -s nullglob; files=(bench/*.py); \
	[ $${#files[@]} -gt 0 ] || { echo "bench: no bench/*.py yet"; exit 0; }; \
	for f in "$${files[@]}"; do echo "=== $$f"; $(PY) "$$f" || exit 1; done

clean:
	rm -rf var test-artifacts test-results .pytest_cache .ruff_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
