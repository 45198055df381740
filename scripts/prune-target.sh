#!/usr/bin/env bash
# Keeps the shared build cache ($CARGO_TARGET_DIR) from growing without bound.
#
# Cargo names the workspace's own artifacts with a hash of, among other things, the
# checkout's path, so every clone in a new folder adds a full set of test binaries
# (hundreds of MB each) and incremental state next to the old ones, and nothing ever
# removes them. When the cache is over $BUDGET_GIB, this deletes, for each workspace
# crate, the builds (one hash each, in deps/, .fingerprint/, build/ and incremental/)
# that are more than $WINDOW_HOURS (then, if still over, 1) hours older than that
# crate's newest build. One checkout builds a crate several ways at once (library,
# check, test), all in the same run, so they are kept together; a wrongly deleted build
# is only rebuilt. Third-party crates are left alone: their hashes do not change with
# the checkout.
#   scripts/prune-target.sh                  prune if over the budget
#   BUDGET_GIB=0 scripts/prune-target.sh     prune now
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
BUDGET_GIB=${BUDGET_GIB:-16}
WINDOW_HOURS=${WINDOW_HOURS:-6}
target=${CARGO_TARGET_DIR:?}
[[ -d $target ]] || exit 0
size_kib=$(du -sk "$target" | cut -f1)
if ((size_kib <= BUDGET_GIB * 1024 * 1024)); then
  echo "prune-target: $((size_kib / 1024)) MiB in $target, within ${BUDGET_GIB} GiB"
  exit 0
fi

# Prints "<mtime> <group> <hash> <path>" for the workspace's entries in one folder.
entries() {
  local dir=$1 entry base stem
  for entry in "$dir"/*; do
    [[ -e $entry ]] || continue
    base=${entry##*/}
    stem=${base%%.*}     # lib<name>-<hash>.rlib, <name>-<hash>.d, <name>-<hash>
    stem=${stem#lib}
    [[ $stem =~ ^(fitsync[-_a-z]*|e2e)-([0-9a-z]{13,16})$ ]] || continue
    printf '%s %s %s %s\n' "$(stat -c %Y "$entry")" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "$entry"
  done
}

freed=0
# Deletes the workspace's builds more than $1 hours older than their crate's newest.
prune() {
  local window=$1 profile sub dir mtime group hash path
  for profile in debug release; do
    for sub in deps .fingerprint build incremental; do
      dir=$target/$profile/$sub
      [[ -d $dir ]] || continue
      # Newest first: the first entry of a group is its newest build.
      local -A newest=() verdict=()
      while read -r mtime group hash path; do
        : "${newest[$group]:=$mtime}"
        if [[ -z ${verdict[$group/$hash]:-} ]]; then
          verdict[$group/$hash]=keep
          ((mtime >= newest[$group] - window * 3600)) || verdict[$group/$hash]=drop
        fi
        if [[ ${verdict[$group/$hash]} == drop ]]; then
          freed=$((freed + $(du -sk "$path" | cut -f1)))
          rm -rf "$path"
        fi
      done < <(entries "$dir" | sort -rn)
      unset newest verdict
    done
  done
}

# A wide window first; a narrow one if that was not enough.
for window in "$WINDOW_HOURS" 1; do
  prune "$window"
  (($(du -sk "$target" | cut -f1) > BUDGET_GIB * 1024 * 1024)) || break
done
echo "prune-target: freed $((freed / 1024)) MiB in $target, $(du -sh "$target" | cut -f1) left"
