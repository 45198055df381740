#!/usr/bin/env bash
# Static scans of the delivery artifacts, offline:
#   trivy config over the Helm charts (rendered by trivy with their default values), the
#   GitOps manifests, Terraform and the Dockerfile, with the checks embedded in the
#   binary; accepted findings, each with its reason, in .trivyignore.yaml;
#   checkov over the GitHub Actions workflows (trivy has no checks for them).
# (checkov over the rendered charts: scripts/deploy/charts.sh; over Terraform and
# Ansible: scripts/deploy/iac.sh.) Any other finding fails.
# Trivy is built once with Go (it needs GOEXPERIMENT=jsonv2); scripts/deploy/tools.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/deploy/tools.sh
source scripts/deploy/tools.sh

need_go_tool trivy github.com/aquasecurity/trivy/cmd/trivy v0.74.0 GOEXPERIMENT=jsonv2
need_checkov

for target in charts/fitsync charts/fitsync-data gitops terraform Dockerfile; do
  echo "== trivy config $target"
  "$DEPLOY_BIN/trivy" config --skip-check-update --skip-version-check --disable-telemetry --quiet \
    --ignorefile .trivyignore.yaml --exit-code 1 "$target"
done
echo "trivy config: no finding beyond the accepted ones (.trivyignore.yaml)"

echo "== checkov .github/workflows"
"$CHECKOV" --framework github_actions --skip-download --compact --quiet -d .github/workflows
