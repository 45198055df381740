#!/usr/bin/env bash
# Builds release binaries and runs the pipeline benchmarks on the local stack.
# Extra arguments go to the bench binary (see `--help`), e.g. --events 50000.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
bash scripts/stack.sh start
cargo build --locked --release -p fitsync -p fitsync-bench
"$CARGO_TARGET_DIR/release/fitsync-bench" --fitsync "$CARGO_TARGET_DIR/release/fitsync" "$@"
