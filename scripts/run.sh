#!/usr/bin/env bash
# Runs the whole platform on this machine: starts the local stack (installing what is
# missing), builds, migrates, starts `fitsync run` (target all), loads demo data and
# prints the URLs. Ctrl-C stops FitSync; `scripts/stack.sh stop` stops the servers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

bash scripts/stack.sh start
cargo build --locked --bin fitsync
BIN=$CARGO_TARGET_DIR/debug/fitsync
# The web app, served by the platform at / (docs/web.md).
bash scripts/web.sh "$BIN" --build
export FITSYNC__SERVER__WEB_ROOT=$ROOT/web/dist
API=http://127.0.0.1:8080
export FITSYNC__TELEMETRY__LOG_FORMAT=${FITSYNC__TELEMETRY__LOG_FORMAT:-pretty}

"$BIN" migrate
"$BIN" run --target all &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM

for _ in $(seq 1 120); do
  curl -fsS "$API/readyz" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "fitsync exited" >&2; exit 1; }
  sleep 0.5
done
"$BIN" seed --api "$API"

cat <<MSG

FitSync is running (Ctrl-C to stop):
  web app          $API/  (sign in as a demo user below)
  API              $API/api/...
  OpenAPI          $API/api/openapi.json
  health           $API/healthz  $API/readyz
  metrics          $API/metrics
  OpenSearch       http://127.0.0.1:${FITSYNC_OPENSEARCH_PORT:-59200}/fitsync-events/_search
  PostgreSQL       postgres://postgres@127.0.0.1:${FITSYNC_PG_PORT:-55432}/progressdb
  Kafka            127.0.0.1:${FITSYNC_KAFKA_PORT:-59092}
  mail sent        .fitsync/mail/new/ (SMTP 127.0.0.1:${FITSYNC_SMTP_PORT:-52525})
Demo logins (password fitsync-demo-password; docs/walkthrough.md, docs/web.md):
  client  demo.client1@fitsync.dev    trainer  demo.trainer1@fitsync.dev    gym  demo.gym@fitsync.dev
MSG
wait $pid
