#!/usr/bin/env bash
# Static scans of the delivery artifacts, offline:
#   trivy config over the Helm charts (rendered by trivy with their default values), the
#   GitOps manifests, Terraform and the Dockerfile, with the checks embedded in the
#   binary; accepted findings, each with its reason, in .trivyignore.yaml;
#   checkov over the GitHub Actions workflows (trivy has no checks for them).
# (checkov over the rendered charts: scripts/deploy/charts.sh; over Terraform and
# Ansible: scripts/deploy/iac.sh.) Any other finding fails.
# Trivy is built once with Go into $FITSYNC_CACHE/tools/bin (it needs GOEXPERIMENT=jsonv2).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

TRIVY_VERSION=v0.74.0
BIN=$FITSYNC_CACHE/tools/bin
stamp=$BIN/.trivy.version
if [[ ! -x $BIN/trivy || $(cat "$stamp" 2>/dev/null) != "$TRIVY_VERSION" ]]; then
  echo "== building trivy $TRIVY_VERSION with Go (once; several minutes)"
  go=go
  command -v go >/dev/null || go=/usr/local/go/bin/go
  mkdir -p "$BIN"
  GOEXPERIMENT=jsonv2 GOBIN=$BIN GOFLAGS=-mod=mod "$go" install "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
  echo "$TRIVY_VERSION" >"$stamp"
fi

for target in charts/fitsync charts/fitsync-data gitops terraform Dockerfile; do
  echo "== trivy config $target"
  "$BIN/trivy" config --skip-check-update --skip-version-check --disable-telemetry --quiet \
    --ignorefile .trivyignore.yaml --exit-code 1 "$target"
done
echo "trivy config: no finding beyond the accepted ones (.trivyignore.yaml)"

CHECKOV_VERSION=3.3.30
CHECKOV_VENV=$FITSYNC_CACHE/tools/checkov-venv
if [[ $("$CHECKOV_VENV/bin/pip" show checkov 2>/dev/null | sed -n 's/^Version: //p') != "$CHECKOV_VERSION" ]]; then
  echo "== installing checkov $CHECKOV_VERSION"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install -q "checkov==$CHECKOV_VERSION"
fi
echo "== checkov .github/workflows"
"$CHECKOV_VENV/bin/checkov" --framework github_actions --skip-download --compact --quiet -d .github/workflows
