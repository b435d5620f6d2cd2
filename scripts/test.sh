#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, then every test against a fresh deployment.
# Starts the stack when it is down and stops it again at the end, even when tests fail;
# a stack that was already up is left running. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

began=$(date +%s)
python3 stack/stackctl/bootstrap.py || exit 1
stackctl() { .venv/tools/bin/stackctl "$@"; }
stackctl tools || exit 1
PY=.venv/tools/bin/python
# The compose test reads docker-compose.yml with the real Compose parser; a machine without
# the Compose plugin builds it once (cached outside the repo).
echo "test: compose CLI (built once from the Go module proxy when docker compose is missing)"
stackctl compose-cli >/dev/null || exit 1

started=0
cleanup() { if [ "$started" = 1 ]; then stackctl down; fi; }
trap cleanup EXIT
if ! stackctl status --quiet; then
  started=1
  stackctl up || exit 1
fi

echo "test: lint"
make --no-print-directory lint || exit 1
echo "test: deploy"
stackctl deploy || exit 1

set -a
eval "$(stackctl env)"
set +a
"$PY" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests, which is a failure here" >&2
  rc=1
fi
echo "test: finished in $(( $(date +%s) - began )) s with exit code $rc"
exit "$rc"
