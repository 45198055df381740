#!/usr/bin/env bash
# Builds the FitSync OCI image without a Docker engine, round-trips it through a real
# OCI registry and proves it serves: buildah (FROM scratch: the binary, the shared
# libraries ldd lists, the loader, CA certificates, a nonroot user 65532, /tmp 1777)
# → CNCF Distribution on loopback → pull back by digest → podman run (read-only root,
# uid 65532, no capabilities, no-new-privileges) as target `users` against the local
# stack → /readyz 200 with status "ok" → SIGTERM → exit 0 within the grace period.
# Any failed step fails the script. See docs/image.md.
#
#   scripts/image.sh [--release] [--no-strip] [BINARY]
#
# BINARY defaults to $FITSYNC_IMAGE_BINARY, else $CARGO_TARGET_DIR/debug/fitsync (what
# `cargo test` builds in CI; built with `cargo build --locked -p fitsync` if missing);
# --release takes $CARGO_TARGET_DIR/release/fitsync. The binary is stripped into the
# image (a copy; the file itself is never changed) unless --no-strip is given.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

strip_binary=1
binary=${FITSYNC_IMAGE_BINARY:-}
while (($#)); do
  case $1 in
    --release) binary=$CARGO_TARGET_DIR/release/fitsync ;;
    --no-strip) strip_binary=0 ;;
    -h | --help)
      sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "image.sh: unknown option $1" >&2
      exit 2
      ;;
    *) binary=$1 ;;
  esac
  shift
done

TOOLS=$FITSYNC_CACHE/tools
REGISTRY_VERSION=v3.1.2
REGISTRY_BIN=$TOOLS/bin/registry
READY_TIMEOUT_SECS=${FITSYNC_IMAGE_READY_TIMEOUT_SECS:-60}
# The binary drains for server.shutdown_grace_ms (10 s by default); podman sends
# SIGKILL after this, which would show up as exit code 137.
STOP_TIMEOUT_SECS=15
REPO=fitsync
TAG=ci-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)-$$

step() { printf '== %s\n' "$*"; }
fail() {
  printf 'image.sh: FAILED: %s\n' "$*" >&2
  exit 1
}
now_ms() { date +%s%3N; }
as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

# ---- tools (idempotent) ------------------------------------------------------------
install_tools() {
  local missing=()
  local tool
  for tool in buildah podman skopeo runc newuidmap fuse-overlayfs; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    step "installing buildah, podman, skopeo, runc, uidmap, fuse-overlayfs (missing: ${missing[*]})"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      buildah podman skopeo runc uidmap fuse-overlayfs >/dev/null
  fi
  if [[ ! -x $REGISTRY_BIN ]]; then
    step "installing the CNCF Distribution registry $REGISTRY_VERSION (go install)"
    local go
    go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x $go ]] || fail "Go is needed to build the registry (not on PATH, not at /usr/local/go/bin/go)"
    mkdir -p "$TOOLS/bin"
    GOBIN=$TOOLS/bin "$go" install "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
  fi
  # runc, not crun (crun fails on this kernel's hybrid cgroups); ulimits within the
  # hard limits here; no systemd or journald inside a CI job.
  mkdir -p "$FITSYNC_CACHE/containers"
  export CONTAINERS_CONF=$FITSYNC_CACHE/containers/containers.conf
  cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

# ---- cleanup -------------------------------------------------------------------------
work=""
registry_pid=""
container=""
cleanup() {
  local rc=$?
  if [[ -n $container ]]; then podman rm -f -t 0 "$container" >/dev/null 2>&1 || true; fi
  if [[ -n $registry_pid ]]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  podman rmi -f "localhost/$REPO:$TAG" >/dev/null 2>&1 || true
  if [[ -n ${pulled_id:-} ]]; then podman rmi -f "$pulled_id" >/dev/null 2>&1 || true; fi
  if [[ -n $work ]]; then rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(now_ms)
install_tools

if [[ -z $binary ]]; then
  binary=$CARGO_TARGET_DIR/debug/fitsync
  if [[ ! -x $binary ]]; then
    step "cargo build --locked -p fitsync (no debug binary at $binary)"
    cargo build --locked -p fitsync
  fi
fi
[[ -x $binary ]] || fail "no executable binary at $binary"

mkdir -p "$FITSYNC_CACHE/registry"
work=$(mktemp -d "$FITSYNC_CACHE/registry/run.XXXXXX")

# ---- root filesystem ---------------------------------------------------------------
step "staging the root filesystem from $binary"
ctx=$work/rootfs
mkdir -p "$ctx/usr/local/bin" "$ctx/etc/ssl/certs" "$ctx/tmp"
if ((strip_binary)); then
  strip --strip-unneeded -o "$ctx/usr/local/bin/fitsync" "$binary"
else
  cp "$binary" "$ctx/usr/local/bin/fitsync"
fi
chmod 0755 "$ctx/usr/local/bin/fitsync"
# Every shared object ldd resolves (libraries and the loader), at the path the binary
# asks for; the vDSO has no file.
libs=$(ldd "$binary" | grep -oE '/[^ ]+' || true)
[[ -n $libs ]] || fail "ldd listed no shared libraries for $binary"
for lib in $libs; do
  mkdir -p "$ctx$(dirname "$lib")"
  cp -L "$lib" "$ctx$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$ctx/etc/ssl/certs/ca-certificates.crt"
# The web app, as the Dockerfile's web stage builds it (scripts/web.sh built web/dist).
[[ -f $ROOT/web/dist/index.html ]] || fail "web/dist is not built: run scripts/web.sh BIN --build first"
mkdir -p "$ctx/srv"
cp -r "$ROOT/web/dist" "$ctx/srv/web"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$ctx/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$ctx/etc/group"
chmod 1777 "$ctx/tmp"

# ---- image -------------------------------------------------------------------------
step "buildah: localhost/$REPO:$TAG (from scratch)"
revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
c=$(buildah from scratch)
buildah copy --quiet "$c" "$ctx/" / >/dev/null
buildah config --user 65532:65532 \
  --entrypoint '["/usr/local/bin/fitsync"]' --cmd '["run","--target","all"]' \
  --env FITSYNC__SERVER__BIND=0.0.0.0:8080 --env FITSYNC__SERVER__WEB_ROOT=/srv/web \
  --port 8080 --workingdir / \
  --label org.opencontainers.image.title=fitsync \
  --label org.opencontainers.image.revision="$revision" \
  "$c"
buildah commit --quiet --rm --format oci "$c" "localhost/$REPO:$TAG" >/dev/null

# ---- registry ----------------------------------------------------------------------
free_port() {
  python3 - "$1" <<'EOF'
import socket, sys
for port in range(int(sys.argv[1]), int(sys.argv[1]) + 200):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    sys.exit("no free port")
EOF
}
wait_until() { # wait_until SECONDS COMMAND...: polls every 100 ms
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

registry_port=$(free_port 55000)
registry=127.0.0.1:$registry_port
step "registry $REGISTRY_VERSION on $registry"
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry-data
http:
  addr: $registry
EOF
OTEL_TRACES_EXPORTER=none "$REGISTRY_BIN" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
wait_until 30 curl -fs -o /dev/null "http://$registry/v2/" ||
  { cat "$work/registry.log" >&2; fail "the registry did not answer on $registry"; }

step "push: skopeo copy → docker://$registry/$REPO:$TAG"
skopeo copy --quiet --dest-tls-verify=false --digestfile "$work/digest" \
  "containers-storage:localhost/$REPO:$TAG" "docker://$registry/$REPO:$TAG"
digest=$(<"$work/digest")
[[ $digest == sha256:* ]] || fail "no manifest digest from the push"
# The pull below must fetch from the registry, not reuse the image built here.
podman rmi "localhost/$REPO:$TAG" >/dev/null

step "pull by digest: $registry/$REPO@$digest"
pulled_id=$(podman pull --quiet --tls-verify=false "$registry/$REPO@$digest")
image=$registry/$REPO@$digest
[[ $(podman image inspect --format '{{.Digest}}' "$pulled_id") == "$digest" ]] ||
  fail "the pulled image's digest differs from the pushed one"

# Sizes: what a node downloads (config + compressed layers, from the registry's
# manifest) and what it unpacks (podman's uncompressed size).
curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$registry/v2/$REPO/manifests/$digest" >"$work/manifest.json"
compressed=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["config"]["size"] + sum(l["size"] for l in m["layers"]))' "$work/manifest.json")
uncompressed=$(podman image inspect --format '{{.Size}}' "$pulled_id")

# The final image has no shell and no package manager: nothing but the staged files.
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$work/manifest.json")
curl -fsS "http://$registry/v2/$REPO/blobs/$layer" | tar -tzvf - >"$work/layer.txt"
if grep -qE ' (\./)?(usr/)?s?bin/(sh|bash|dash|busybox|apt|apt-get|dpkg)$' "$work/layer.txt"; then
  fail "the image contains a shell or a package manager"
fi
grep -qE '^drwxrwxrwt .* (\./)?tmp/?$' "$work/layer.txt" || fail "/tmp is not mode 1777 in the image"

# ---- run against the local stack -----------------------------------------------------
step "local stack (scripts/stack.sh start; idempotent)"
bash scripts/stack.sh start >/dev/null
eval "$(bash scripts/stack.sh env)"
app_port=$(free_port 55100)
run_flags=(--read-only --user 65532:65532 --cap-drop=ALL --security-opt no-new-privileges
  --network=host --env "FITSYNC__SERVER__BIND=127.0.0.1:$app_port"
  --env "FITSYNC__SERVER__PUBLIC_URL=http://127.0.0.1:$app_port")
while IFS='=' read -r name _; do
  [[ $name == FITSYNC__* && $name != FITSYNC__SERVER__* ]] && run_flags+=(--env "$name")
done < <(env)

step "migrate --wait 60 (in the image)"
podman run --rm "${run_flags[@]}" "$image" migrate --wait 60

# Outside `--target all` the users service needs its keys from configuration (in a
# cluster they come from Vault); the image generates throwaway ones.
FITSYNC__AUTH__SIGNING_KEY_PEM=$(podman run --rm "${run_flags[@]}" "$image" keygen)
FITSYNC__AUTH__EMAIL_TOKEN_KEY=$(podman run --rm "${run_flags[@]}" "$image" keygen --token-key)
export FITSYNC__AUTH__SIGNING_KEY_PEM FITSYNC__AUTH__EMAIL_TOKEN_KEY
run_flags+=(--env FITSYNC__AUTH__SIGNING_KEY_PEM --env FITSYNC__AUTH__EMAIL_TOKEN_KEY
  --env "FITSYNC__AUTH__JWKS_URL=http://127.0.0.1:$app_port/.well-known/jwks.json"
  --env "FITSYNC__AUTH__ISSUER=http://127.0.0.1:$app_port")

step "run --target users,web on 127.0.0.1:$app_port"
container=fitsync-image-test-$$
run_started=$(now_ms)
podman run -d --name "$container" "${run_flags[@]}" "$image" run --target users,web >/dev/null
readyz() {
  local code
  code=$(curl -s -o "$work/readyz.json" -w '%{http_code}' "http://127.0.0.1:$app_port/readyz" || true)
  [[ $code == 200 ]] && return 0
  # A container that exited will never answer: stop polling.
  [[ $(podman inspect --format '{{.State.Running}}' "$container") == true ]] || return 2
  return 1
}
status=0
deadline=$(($(now_ms) + READY_TIMEOUT_SECS * 1000))
while true; do
  if readyz; then break; else status=$?; fi
  if ((status == 2)) || (($(now_ms) >= deadline)); then
    podman logs --tail 40 "$container" >&2 || true
    fail "/readyz did not answer 200 within ${READY_TIMEOUT_SECS}s (container running: $([[ $status == 2 ]] && echo no || echo yes))"
  fi
  sleep 0.1
done
ready_ms=$(($(now_ms) - run_started))
python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); sys.exit(0 if b.get("status")=="ok" else "body says "+json.dumps(b))' \
  "$work/readyz.json" || fail "/readyz answered 200 without status ok"
echo "readyz: $(<"$work/readyz.json")"

step "the web app from the image: a client-side route gets index.html with its CSP"
curl -fsS -D "$work/web.headers" -o "$work/web.html" "http://127.0.0.1:$app_port/client"
grep -qi '^content-security-policy: .*script-src .self.' "$work/web.headers" || fail "no CSP on the web app"
grep -q '<div id="root">' "$work/web.html" || fail "/client did not answer with the app's index.html"
asset=$(grep -oE '/assets/index-[^"]+\.js' "$work/web.html" | head -1)
curl -fsS -o /dev/null "http://127.0.0.1:$app_port$asset" || fail "the app's script $asset is not served"

step "smoke test (scripts/deploy/smoke.sh, as the pipeline runs it against staging)"
bash scripts/deploy/smoke.sh "http://127.0.0.1:$app_port"

# What the kernel says about the running process, read from the host's /proc.
pid=$(podman inspect --format '{{.State.Pid}}' "$container")
proc_status=$(<"/proc/$pid/status")
grep -qE '^Uid:[[:space:]]+65532[[:space:]]+65532' <<<"$proc_status" || fail "the process does not run as uid 65532"
grep -qE '^CapEff:[[:space:]]+0+$' <<<"$proc_status" || fail "the process has effective capabilities"
grep -qE '^NoNewPrivs:[[:space:]]+1$' <<<"$proc_status" || fail "no_new_privs is not set"
awk '$5 == "/" { split($6, o, ","); for (i in o) if (o[i] == "ro") found = 1 } END { exit !found }' \
  "/proc/$pid/mountinfo" || fail "the root filesystem is not mounted read-only"
echo "process:      uid 65532, no effective capabilities, no_new_privs, read-only /"

step "SIGTERM (podman stop -t $STOP_TIMEOUT_SECS)"
stop_started=$(now_ms)
podman stop --time "$STOP_TIMEOUT_SECS" "$container" >/dev/null
stop_ms=$(($(now_ms) - stop_started))
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
if [[ $exit_code != 0 ]]; then
  podman logs --tail 40 "$container" >&2 || true
  fail "the container exited with $exit_code after SIGTERM (137 = killed after the grace period)"
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo
echo "image:        $image (binary $binary$( ((strip_binary)) && echo ", stripped"))"
echo "size:         $(mib "$compressed") compressed (registry manifest: config + layers), $(mib "$uncompressed") uncompressed"
echo "start:        ${ready_ms} ms from podman run to the first 200 on /readyz (target users)"
echo "stop:         exit 0 ${stop_ms} ms after SIGTERM"
echo "total:        $((($(now_ms) - started) / 1000)) s"
