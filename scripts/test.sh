#!/usr/bin/env bash
# Runs every check and test against real servers: starts the local stack (installing
# what is missing), then fmt, clippy, and the whole test suite.
#   scripts/test.sh            leave the stack running afterwards
#   scripts/test.sh --stop     stop it at the end (CI)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

stop=0
[[ ${1:-} == --stop ]] && stop=1
# Child processes the tests started are killed at the end, even after an aborted run.
cleanup() {
  local pidfile
  for pidfile in "$ROOT"/.fitsync/test-pids/*; do
    [[ -e $pidfile ]] || continue
    kill -9 "$(basename "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  if ((stop)); then bash scripts/stack.sh stop; fi
}
trap cleanup EXIT

bash scripts/stack.sh start
# This checkout's servers and folders, whatever a caller's environment says (a shell
# set up for another checkout would point the tests at its Maildir).
eval "$(bash scripts/stack.sh env)"
# Builds of checkouts in other folders, once the shared build cache is over its budget.
bash scripts/prune-target.sh

# The tests' databases (one per test), dropped before and after the tests: hundreds
# left on the server cost it CPU (the autovacuum launcher visits each in turn), which
# slows whatever runs next, a benchmark included. One in use is left alone.
drop_test_databases() {
  psql -h 127.0.0.1 -p "${FITSYNC_PG_PORT:-55432}" -U postgres -tAc \
    "select datname from pg_database where datname like 't\_%'" |
    while read -r db; do psql -h 127.0.0.1 -p "${FITSYNC_PG_PORT:-55432}" -U postgres -qc "drop database if exists \"$db\"" >/dev/null 2>&1 || echo "kept $db (in use)"; done
}
drop_test_databases

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== sqlx: the committed query cache matches the queries and the migrations"
bash scripts/sqlx.sh check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== shellcheck"
shellcheck scripts/*.sh scripts/deploy/*.sh .ci/run
echo "== cargo test"
# Every end-to-end test has its own time limit (FITSYNC_TEST_TIMEOUT_SECS, see
# fitsync/tests/e2e/harness.rs); this one bounds the whole run.
timeout --signal=KILL 45m cargo test --workspace --locked
drop_test_databases
# The web app (docs/web.md): type-check, component tests, build, the typed client
# against the OpenAPI document, and the browser tests against a platform of its own.
started=$SECONDS
timeout --signal=KILL 20m bash scripts/web.sh "$CARGO_TARGET_DIR/debug/fitsync"
echo "== web took $((SECONDS - started)) s"
# The delivery platform (docs/deployment.md): every artifact through its validators,
# then the image built from the binary the tests used, round-tripped through a registry
# and run until it is ready. Each step says how long it took.
delivery() { # TITLE COMMAND...
  local title=$1 started=$SECONDS
  shift
  echo "== delivery: $title"
  "$@"
  echo "== delivery: $title took $((SECONDS - started)) s"
}
delivery "charts, GitOps manifests, alert rules" bash scripts/deploy/charts.sh "$CARGO_TARGET_DIR/debug/fitsync"
delivery "workflows, Dockerfile, cargo audit" bash scripts/deploy/ci-files.sh
delivery "Terraform and Ansible" bash scripts/deploy/iac.sh
delivery "trivy config and checkov" bash scripts/deploy/scan.sh
delivery "the image" bash scripts/image.sh "$CARGO_TARGET_DIR/debug/fitsync"
