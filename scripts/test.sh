#!/usr/bin/env bash
# The project's test command (README, .ci/run): sets up what it needs on a fresh machine, then runs every test that needs
# no GPU: the CPU tests, and the real-library tests against NVIDIA's libcudart and TensorRT lean/dispatch runtimes from PyPI.
# GPU tests are `#[ignore = "needs GPU"]`; run them on a GPU machine with `cargo test --workspace -- --ignored gpu_`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/nvidia-wheels.sh

echo "== cargo test (CPU tests) =="
cargo test --workspace --locked
echo "== cargo test (real NVIDIA libraries from PyPI, no GPU) =="
cargo test --workspace --locked -- --ignored reallib_
echo "== cargo doc (no NVIDIA software) =="
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
