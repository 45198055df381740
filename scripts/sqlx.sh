#!/usr/bin/env bash
# Compile-time checked queries: every `sqlx::query!` is checked against a database with
# every migration of every service applied (one schema: each table has one definition),
# and the result is kept in `.sqlx/` (committed), so builds never need a database
# (`SQLX_OFFLINE=true`, scripts/env.sh).
#
#   scripts/sqlx.sh prepare    after changing a query or a migration: rewrite .sqlx/
#   scripts/sqlx.sh check      fail if .sqlx/ is not what the queries and schema give (CI)
#
# Needs the local stack's PostgreSQL (scripts/stack.sh start). Installs sqlx-cli into
# the cache the first time (a few minutes).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

SQLX_CLI_VERSION=0.8.6
SQLX_CLI_ROOT=$FITSYNC_CACHE/tools/sqlx-cli
PG_PORT=${FITSYNC_PG_PORT:-55432}
SCHEMA_DB=fitsync_sqlx

if ! "$SQLX_CLI_ROOT/bin/cargo-sqlx" sqlx --version 2>/dev/null | grep -q "$SQLX_CLI_VERSION"; then
  echo "[sqlx] installing sqlx-cli $SQLX_CLI_VERSION into $SQLX_CLI_ROOT" >&2
  cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --locked --no-default-features \
    --features postgres,rustls --root "$SQLX_CLI_ROOT" >&2
fi
export PATH=$SQLX_CLI_ROOT/bin:$PATH

# The schema: a fresh database with every migration of the platform and of every service
# applied in version order (the versions are unique across services; the platform's,
# which every service database gets, once). Applied with psql, not by the binary, which
# could not compile before its queries are in the cache.
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "drop database if exists $SCHEMA_DB" >/dev/null
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database $SCHEMA_DB" >/dev/null
for migration in $(printf '%s\n' services/*/migrations/*.sql | awk -F/ '{print $NF "\t" $0}' | sort -n | cut -f2); do
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$SCHEMA_DB" -q -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
done
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$SCHEMA_DB
export SQLX_OFFLINE=false

case ${1:-check} in
  prepare) cargo sqlx prepare --workspace -- --all-targets --locked ;;
  check) cargo sqlx prepare --workspace --check -- --all-targets --locked ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
