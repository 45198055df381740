# shellcheck shell=bash
# Sourced by the scripts: where builds and downloaded servers are cached (outside the
# clone, so CI's fresh clones reuse them) and the Rust toolchain.
FITSYNC_CACHE=${FITSYNC_CACHE:-$HOME/.cache/fitsync}
export FITSYNC_CACHE
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$FITSYNC_CACHE/target}
if ! command -v cargo >/dev/null 2>&1 && [[ -f $HOME/.cargo/env ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
# Queries are checked at compile time against the cache in .sqlx/ (scripts/sqlx.sh).
export SQLX_OFFLINE=${SQLX_OFFLINE:-true}
