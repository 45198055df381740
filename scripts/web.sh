#!/usr/bin/env bash
# The web app (web/, docs/web.md): installs it from the committed lockfile (npm ci, its
# cache outside the clone), type-checks it, runs its component tests and builds it;
# then checks that the typed API client matches the platform's OpenAPI document, and
# runs the browser tests (Playwright driving Debian's Chromium) against a real platform
# started here on a port, databases, topics, index and Redis keys of its own, loaded
# with the demo data. Needs the stack (scripts/stack.sh start) and the binary.
#
#   scripts/web.sh BIN            everything
#   scripts/web.sh BIN --build    only install and build (what scripts/run.sh needs)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:?usage: scripts/web.sh BIN [--build]}
FITSYNC_CACHE=${FITSYNC_CACHE:-$HOME/.cache/fitsync}
export npm_config_cache=$FITSYNC_CACHE/npm
# Never let a tool download a browser: the tests drive /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd "$ROOT/web"

step() { echo "== web: $*"; }

step "npm ci"
npm ci --no-audit --no-fund --prefer-offline --loglevel=error
if [[ ${2:-} != --build ]]; then
  step "type-check"
  npm run --silent typecheck
  step "component tests"
  npm test --silent
fi
step "build"
npm run --silent build
node scripts/bundle-size.mjs
[[ ${2:-} == --build ]] && exit 0

bash "$ROOT/scripts/stack.sh" browser

# A platform of its own: fresh databases (t_… ones are dropped by the next test run),
# topics, index and keys, so earlier runs' events cannot leak in. For the tests, access
# tokens live 70 s, so that they see the app refresh its session (and the live stream
# end and resume) within their time.
RUN=web$(date +%s)$RANDOM
PORT=${FITSYNC_WEB_TEST_PORT:-18080}
URL=http://127.0.0.1:$PORT
PSQL=(psql -h 127.0.0.1 -p "${FITSYNC_PG_PORT:-55432}" -U postgres -qc)
for db in users training schedule progress notifications; do
  "${PSQL[@]}" "create database t_${RUN}_$db" >/dev/null
  export "FITSYNC__DATABASE__NAMES__${db^^}=t_${RUN}_$db"
done
export FITSYNC__SERVER__BIND=127.0.0.1:$PORT FITSYNC__SERVER__PUBLIC_URL=$URL \
  FITSYNC__SERVER__WEB_ROOT=$ROOT/web/dist \
  FITSYNC__AUTH__ISSUER=$URL FITSYNC__AUTH__JWKS_URL=$URL/.well-known/jwks.json \
  FITSYNC__KAFKA__TOPIC_PREFIX=$RUN. FITSYNC__OPENSEARCH__INDEX_PREFIX=$RUN- \
  FITSYNC__REDIS__KEY_PREFIX=$RUN: FITSYNC__TELEMETRY__LOG_LEVEL=warn
LOG=$ROOT/.fitsync/logs/web-platform.log
mkdir -p "$(dirname "$LOG")"
platform=
stop_platform() {
  [[ -n $platform ]] || return 0
  kill "$platform" 2>/dev/null || true
  wait "$platform" 2>/dev/null || true
  platform=
}
trap stop_platform EXIT
start_platform() { # [VAR=VALUE...]: extra settings for this start
  env "$@" "$BIN" run --target all >>"$LOG" 2>&1 &
  platform=$!
  for _ in $(seq 1 240); do
    curl -fsS "$URL/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$platform" 2>/dev/null || break
    sleep 0.5
  done
  tail -50 "$LOG"
  echo "the platform is not ready" >&2
  exit 1
}
: >"$LOG"
start_platform

step "the typed client matches the platform's OpenAPI document"
curl -fsS "$URL/api/openapi.json" -o openapi.json
npm run --silent gen:api >/dev/null
git -C "$ROOT" diff --exit-code -- web/src/api/schema.d.ts ||
  { echo "web/src/api/schema.d.ts is stale: run npm run gen:api in web/ (docs/web.md)" >&2; exit 1; }

step "demo data"
"$BIN" seed --api "$URL" >"$ROOT/.fitsync/logs/web-seed.log"
# Again with 70 s access tokens (the seed keeps its tokens longer than that).
stop_platform
start_platform FITSYNC__AUTH__ACCESS_TOKEN_TTL_SECS=70

step "every screen of every demo role renders against the platform (Node, jsdom)"
LIVE_API=$URL npm run --silent test:live

step "browser tests (Chromium)"
FITSYNC_WEB_URL=$URL npx playwright test
