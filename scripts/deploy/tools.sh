# shellcheck shell=bash
# Sourced by the delivery scripts (after scripts/env.sh): the tools they share, each
# installed once under $FITSYNC_CACHE/tools at a pinned version.
DEPLOY_TOOLS=$FITSYNC_CACHE/tools
DEPLOY_BIN=$DEPLOY_TOOLS/bin
CHECKOV_VERSION=3.3.30
# shellcheck disable=SC2034 # used by the scripts that source this file
CHECKOV=$DEPLOY_TOOLS/checkov-venv/bin/checkov

# checkov, in a virtualenv of its own (charts, workflows, Terraform and Ansible).
need_checkov() {
  local venv=$DEPLOY_TOOLS/checkov-venv
  if [[ $("$venv/bin/pip" show checkov 2>/dev/null | sed -n 's/^Version: //p') != "$CHECKOV_VERSION" ]]; then
    echo "== installing checkov $CHECKOV_VERSION" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "checkov==$CHECKOV_VERSION"
  fi
}

# A Go command built with `go install` into $DEPLOY_BIN, rebuilt when its pin changes.
need_go_tool() { # NAME MODULE VERSION [ENV=VALUE ...]
  local name=$1 module=$2 version=$3 stamp=$DEPLOY_BIN/.$1.version
  shift 3
  [[ -x $DEPLOY_BIN/$name && $(cat "$stamp" 2>/dev/null) == "$version" ]] && return 0
  local go=go
  command -v go >/dev/null || go=/usr/local/go/bin/go
  echo "== building $name $version with Go (once)" >&2
  mkdir -p "$DEPLOY_BIN"
  (cd / && env "$@" GOBIN="$DEPLOY_BIN" GOFLAGS=-mod=mod "$go" install "$module@$version")
  echo "$version" >"$stamp"
}
