#!/usr/bin/env bash
# The project's test command (README, .ci/run): sets up what it needs on a fresh machine, then runs every test that needs
# no GPU: the CPU tests, and the real-library tests against NVIDIA's libcudart and TensorRT lean/dispatch runtimes from PyPI.
# GPU tests are `#[ignore = "needs GPU"]`; run them on a GPU machine with `cargo test --workspace -- --ignored gpu_`.
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages the tests use: python3 + pip (NVIDIA wheels from PyPI), a C++ compiler (cxx), jq/flock/sha256sum
# (the Jetson entrypoint test). Installed only when missing.
need=()
command -v python3 >/dev/null || need+=(python3 python3-pip)
command -v c++ >/dev/null || need+=(g++)
command -v jq >/dev/null || need+=(jq)
command -v flock >/dev/null || need+=(util-linux)
command -v sha256sum >/dev/null || need+=(coreutils)
if [ ${#need[@]} -gt 0 ]; then
  { [ "$(id -u)" = 0 ] || { echo "test.sh: missing system packages ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2; exit 1; }; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
source scripts/nvidia-wheels.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== cargo test (CPU tests) =="
cargo test --workspace --locked 2>&1 | tee -a "$log"
echo "== cargo test (real NVIDIA libraries from PyPI, no GPU) =="
cargo test --workspace --locked -- --ignored reallib_ 2>&1 | tee -a "$log"
echo "== cargo doc of the libraries (no NVIDIA software) =="
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --lib --no-deps --locked --quiet
# One closing line over both runs, for readers of the CI log.
awk '/^test result:/ {p += $4; f += $6} END {printf "tests: %d passed, %d failed\n", p, f}' "$log"
