#!/usr/bin/env bash
# Validates the infrastructure code offline: terraform/ (OpenStack VMs for the
# k3s cluster) and terraform/ansible/ (node setup and k3s install).
#
#   scripts/deploy/iac.sh
#
# Installs what it needs on first use, cached outside the clone and pinned
# (a second run reuses everything):
#   - a Python venv with ansible and ansible-lint; checkov from the delivery
#     scripts' shared tools (scripts/deploy/tools.sh)
#   - terraform-provider-openstack built from the Go module proxy, placed in a
#     Terraform filesystem mirror, so `terraform init/validate/test` run offline
#   - nftables (nft -c) and haproxy (haproxy -c) from Debian
#     (apt-get) if they are missing; haproxy's service is left stopped and
#     disabled, only its config checker is used
# Needs: terraform, go (/usr/local/go/bin/go or on PATH), python3 with venv.
# Nothing is planned or applied against a cloud.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${FITSYNC_CACHE:-$HOME/.cache/fitsync}
FITSYNC_CACHE=$CACHE
# shellcheck source=scripts/deploy/tools.sh
source "$ROOT/scripts/deploy/tools.sh"
TOOLS=${FITSYNC_TOOLS_DIR:-$CACHE/tools}
VENV=$TOOLS/iac-venv
MIRROR=$TOOLS/terraform-mirror
GOBIN_DIR=$TOOLS/bin

# Pins. Changing one reinstalls that tool on the next run.
PY_PINS="ansible-core==2.19.14 ansible==12.3.0 ansible-lint==26.10.1"
OPENSTACK_PROVIDER_MODULE=github.com/terraform-provider-openstack/terraform-provider-openstack/v3
OPENSTACK_PROVIDER_VERSION=3.4.0

TF_DIR=$ROOT/terraform
ANSIBLE_DIR=$ROOT/terraform/ansible

log() { printf '%s\n' "$*" >&2; }
header() { printf '\n== %s\n' "$*"; }
die() { log "iac.sh: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "go not found (needed once to build the Terraform provider)"
  fi
}

install_venv() {
  local stamp=$VENV/.fitsync-pins
  if [[ -x $VENV/bin/ansible-lint && -f $stamp && "$(cat "$stamp")" == "$PY_PINS" ]]; then
    return 0
  fi
  log "installing Python tools into $VENV ($PY_PINS)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # PY_PINS is a list of requirement specifiers
  "$VENV/bin/pip" install --quiet $PY_PINS
  printf '%s' "$PY_PINS" >"$stamp"
}

install_provider() {
  local dir=$MIRROR/registry.terraform.io/terraform-provider-openstack/openstack/$OPENSTACK_PROVIDER_VERSION/linux_amd64
  local bin=$dir/terraform-provider-openstack_v$OPENSTACK_PROVIDER_VERSION
  if [[ ! -x $bin ]]; then
    local go
    go=$(find_go)
    log "building $OPENSTACK_PROVIDER_MODULE@v$OPENSTACK_PROVIDER_VERSION (a few minutes, once)"
    mkdir -p "$GOBIN_DIR" "$dir"
    # Build outside the repository so no go.mod/go.work of the project interferes.
    (cd / && GOBIN=$GOBIN_DIR "$go" install \
      "$OPENSTACK_PROVIDER_MODULE@v$OPENSTACK_PROVIDER_VERSION")
    cp "$GOBIN_DIR/terraform-provider-openstack" "$bin.tmp"
    mv "$bin.tmp" "$bin"
  fi
  # CLI config: the OpenStack provider only from the local mirror, never the
  # registry (which this machine cannot reach).
  cat >"$TOOLS/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/terraform-provider-openstack/openstack"]
  }
  direct {
    exclude = ["registry.terraform.io/terraform-provider-openstack/openstack"]
  }
}
EOF
}

install_debian_tools() {
  local missing=()
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]} (apt-get)"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # Only `haproxy -c` is wanted: do not leave a load balancer running here.
  if [[ " ${missing[*]} " == *" haproxy "* && -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now haproxy >/dev/null 2>&1 || true
  fi
}

command -v terraform >/dev/null 2>&1 || die "terraform not found on PATH"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
mkdir -p "$TOOLS"
header "install tools (cached in $TOOLS)"
install_venv
install_provider
install_debian_tools
need_checkov
export PATH=$VENV/bin:$PATH
export TF_CLI_CONFIG_FILE=$TOOLS/terraformrc
"$VENV/bin/ansible" --version | head -n1
"$CHECKOV" --version
terraform version | head -n1
nft --version
haproxy -v | head -n1
echo "terraform-provider-openstack v$OPENSTACK_PROVIDER_VERSION (filesystem mirror)"

export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
# checkov: no calls to the vendor's API for check metadata (offline).
export BC_SKIP_MAPPING=TRUE
unset TF_PLUGIN_CACHE_DIR

# Terraform writes .terraform/ and a lock file when it initialises; the lock
# file would carry the hash of the locally built provider (not the registry's
# release), so everything runs on a copy of terraform/ in a scratch directory.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fitsync-iac.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp -R "$TF_DIR" "$WORK/terraform"
rm -rf "$WORK/terraform/ansible"
find "$WORK/terraform" \( -name .terraform -o -name .terraform.lock.hcl \) -prune -exec rm -rf {} +

# ---------------------------------------------------------------------------
# Validators
# ---------------------------------------------------------------------------
header "terraform fmt -check -recursive"
terraform fmt -check -recursive -diff "$TF_DIR"
echo "ok"

header "terraform init -backend=false + validate (every module and the root)"
mapfile -t tf_roots < <(cd "$WORK/terraform" && { echo cluster; find modules -mindepth 1 -maxdepth 1 -type d; } | sort)
for dir in "${tf_roots[@]}"; do
  (
    cd "$WORK/terraform/$dir"
    terraform init -backend=false -input=false -no-color >"$WORK/init.log" 2>&1 \
      || { cat "$WORK/init.log" >&2; exit 1; }
    printf '%-28s ' "$dir"
    terraform validate -no-color | tr -d '\n'
    echo
  )
done

header "terraform test (cluster, mock OpenStack provider)"
(cd "$WORK/terraform/cluster" && terraform test -no-color)

header "checkov (terraform, ansible)"
(cd "$TF_DIR" && "$CHECKOV" --quiet --compact --framework terraform ansible \
  --config-file "$TF_DIR/.checkov.yaml" --directory .)

cd "$ANSIBLE_DIR"
export ANSIBLE_CONFIG=$ANSIBLE_DIR/ansible.cfg
export ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp ANSIBLE_HOME=$WORK/ansible-home

header "ansible-inventory (example inventory parses)"
ansible-inventory -i inventory/example/hosts.yml --graph

header "ansible-playbook --syntax-check"
for playbook in site.yml kubeconfig.yml verify-templates.yml; do
  ansible-playbook -i inventory/example/hosts.yml --syntax-check "$playbook"
done

header "render every template for the example inventory (nft -c, haproxy -c, YAML)"
FITSYNC_RENDER_DIR=$WORK/render ansible-playbook -i inventory/example/hosts.yml verify-templates.yml >"$WORK/render.log" 2>&1 \
  || { cat "$WORK/render.log"; exit 1; }
grep -A20 '^PLAY RECAP' "$WORK/render.log"

header "ansible-lint (production profile, strict)"
ansible-lint --offline --profile production --strict

header "all IaC validators passed"
