#!/usr/bin/env bash
# Validates the Kubernetes delivery artifacts offline, failing on the first error:
#   - charts/fitsync: `helm lint --strict` and `helm template` with every values file and
#     the variants (External Secrets, blue-green, no mesh and no rollouts);
#   - the rendered manifests and gitops/: core kinds against Kubernetes' schemas
#     (kubernetes-validate --strict), custom resources against their CRDs' schemas
#     (kubeconform -strict with ../shared/schemas/crds; a kind without a schema fails);
#   - the secrets file each provider renders (Vault agent, External Secrets), loaded by
#     the binary given as the argument (`fitsync config`: scripts/deploy/secrets_render.py);
#   - the log index template on the local stack's OpenSearch, with the binary's real log
#     lines (scripts/deploy/log_index.py; FITSYNC__OPENSEARCH__URL from scripts/stack.sh env);
#   - the Prometheus rules (`promtool check rules`, `promtool test rules`) and the
#     Alertmanager configuration (`amtool check-config`).
# usage: scripts/deploy/charts.sh PATH/TO/fitsync   (the stack running: scripts/stack.sh start)
# Tools are installed once into $FITSYNC_CACHE/tools (helm and kubeconform built with Go,
# kubernetes-validate in a virtualenv, amtool from Debian).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/deploy/tools.sh
source scripts/deploy/tools.sh
FITSYNC_BIN=${1:?usage: scripts/deploy/charts.sh PATH/TO/fitsync}

KUBE_VERSION=1.32.0
HELM_VERSION=v3.21.4
KUBECONFORM_VERSION=v0.7.0
KUBERNETES_VALIDATE_VERSION=1.37.0
TOOLS=$FITSYNC_CACHE/tools
BIN=$TOOLS/bin
VENV=$TOOLS/charts-venv
export PATH=$BIN:$PATH
CRDS=${FITSYNC_CRD_SCHEMAS:-$ROOT/../shared/schemas/crds}
[[ -d $CRDS ]] || CRDS=/work/shared/schemas/crds
if [[ ! -d $CRDS ]]; then
  echo "no CRD schemas at ../shared/schemas/crds (set FITSYNC_CRD_SCHEMAS)" >&2
  exit 1
fi

log() { printf '== %s\n' "$*"; }

need_go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
need_go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
if [[ $("$VENV/bin/pip" show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p') != "$KUBERNETES_VALIDATE_VERSION" ]]; then
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
need_checkov
if ! command -v amtool >/dev/null || ! command -v promtool >/dev/null; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  log "installing prometheus and prometheus-alertmanager (promtool, amtool)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Splits rendered manifests into core kinds and custom resources (by API group).
split() { # IN CORE CUSTOM
  "$VENV/bin/python" - "$@" <<'EOF'
import sys, yaml
src, core, custom = sys.argv[1:]
# Kinds no schema is at hand for offline (named in docs/deployment.md): left out, said.
UNCHECKED = {"OpenSearchCluster"}
core_groups = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io",
               "rbac.authorization.k8s.io", "storage.k8s.io"}
docs = {"core": [], "custom": []}
for doc in yaml.safe_load_all(open(src)):
    if not doc:
        continue
    if doc["kind"] in UNCHECKED:
        print(f"not checked (no schema offline): {doc['kind']} {doc['metadata']['name']}", file=sys.stderr)
        continue
    group = doc["apiVersion"].rpartition("/")[0]
    docs["core" if group in core_groups else "custom"].append(doc)
for name, path in (("core", core), ("custom", custom)):
    with open(path, "w") as f:
        yaml.safe_dump_all(docs[name], f, sort_keys=False)
print(len(docs["core"]), len(docs["custom"]))
EOF
}

validate() { # FILE LABEL
  local file=$1 label=$2 counts summary
  counts=$(split "$file" "${file%.yaml}.core.yaml" "${file%.yaml}.custom.yaml")
  echo "$label: ${counts% *} core, ${counts#* } custom resources"
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBE_VERSION" "${file%.yaml}.core.yaml"
  summary=$(kubeconform -strict -summary -output text \
    -schema-location "$CRDS/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" \
    "${file%.yaml}.custom.yaml")
  echo "$summary"
  # kubeconform passes a file it found nothing in: every custom resource must be valid.
  grep -q "Valid: ${counts#* }, Invalid: 0, Errors: 0, Skipped: 0" <<<"$summary"
}

CHART=charts/fitsync
DATA=charts/fitsync-data
variants=(
  "defaults|$CHART|"
  "staging|$CHART|-f $CHART/values-staging.yaml"
  "production|$CHART|-f $CHART/values-production.yaml"
  "production, External Secrets, blue-green|$CHART|-f $CHART/values-production.yaml --set secrets.provider=externalSecrets --set rollouts.strategy=blueGreen"
  "no mesh, no rollouts, no autoscaling|$CHART|--set istio.enabled=false --set rollouts.enabled=false --set autoscaling.enabled=false --set keda.enabled=false"
  "data, production|$DATA|"
  "data, staging|$DATA|-f $DATA/values-staging.yaml"
)
for variant in "${variants[@]}"; do
  IFS='|' read -r label chart rest <<<"$variant"
  read -r -a args <<<"$rest"
  log "helm lint --strict ($label)"
  helm lint --strict --kube-version "$KUBE_VERSION" "$chart" "${args[@]}" >"$OUT/lint.log" || {
    cat "$OUT/lint.log"
    exit 1
  }
  log "helm template + schemas ($label)"
  file=$OUT/rendered-${label//[^a-zA-Z]/_}.yaml
  helm template fitsync "$chart" --namespace fitsync --kube-version "$KUBE_VERSION" "${args[@]}" >"$file"
  validate "$file" "$label"
done

log "checkov: the rendered charts (production and staging, as the pipeline renders them: image by digest) and gitops/"
mkdir -p "$OUT/checkov"
digest=sha256:$(printf '0%.0s' {1..64})
for env in production staging; do
  helm template fitsync "$CHART" --namespace fitsync --kube-version "$KUBE_VERSION" \
    -f "$CHART/values-$env.yaml" --set image.digest="$digest" >"$OUT/checkov/fitsync-$env.yaml"
  overlay=()
  [[ $env == staging ]] && overlay=(-f "$DATA/values-staging.yaml")
  helm template fitsync-data "$DATA" --namespace fitsync-data --kube-version "$KUBE_VERSION" \
    "${overlay[@]}" >"$OUT/checkov/data-$env.yaml"
done
cp gitops/*.yaml gitops/*/*.yaml "$OUT/checkov/"
# Accepted findings and their reasons: charts/.checkov.yaml (and checkov.io/skip
# annotations in the templates). --skip-download: no network here.
"$CHECKOV" --config-file charts/.checkov.yaml --skip-download -d "$OUT/checkov"

log "partitions: the same count in both charts and the binary's setting"
"$VENV/bin/python" scripts/deploy/partitions.py

log "secrets files: rendered as each provider would, loaded by fitsync config"
"$VENV/bin/python" scripts/deploy/secrets_render.py "$OUT/rendered-production.yaml" \
  "$OUT/rendered-production__External_Secrets__blue_green.yaml" "$FITSYNC_BIN" "$BIN/helm"

log "gitops/ manifests + schemas"
"$VENV/bin/python" -c 'import sys, yaml
docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]
yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)' gitops/*.yaml gitops/*/*.yaml >"$OUT/gitops.yaml"
validate "$OUT/gitops.yaml" gitops

log "log index template: the binary's log lines indexed into the stack's OpenSearch"
: "${FITSYNC__OPENSEARCH__URL:?not set: run with the environment of scripts/stack.sh env}"
"$VENV/bin/python" scripts/deploy/log_index.py "$FITSYNC_BIN" "$FITSYNC__OPENSEARCH__URL"

log "promtool check rules"
promtool check rules "$CHART/files/prometheus/alerts.yaml"
log "promtool test rules"
promtool test rules "$CHART/files/prometheus/alerts_test.yaml"
log "every alert has its runbook in docs/operations.md"
"$VENV/bin/python" - <<'EOF'
import re, sys, yaml
rules = [r for g in yaml.safe_load(open("charts/fitsync/files/prometheus/alerts.yaml"))["groups"] for r in g["rules"]]
headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", open("docs/operations.md").read(), re.M)}
missing = []
for r in rules:
    anchor = r["annotations"]["runbook_url"].rpartition("#")[2]
    if r["alert"].lower() != anchor or anchor not in headings:
        missing.append(r["alert"])
if missing:
    sys.exit(f"alerts without a runbook section (or a wrong runbook_url): {missing}")
print(f"{len(rules)} alerts, each with its runbook section")
EOF

log "amtool check-config"
amtool check-config gitops/platform/alertmanager/alertmanager.yml
