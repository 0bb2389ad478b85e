#!/usr/bin/env bash
# The CUDA-level GPU tests on a lent GPU machine (no Rust toolchain and no TensorRT there).
#
#   bash scripts/gpu-check.sh prepare   # here: builds the test binaries that hold gpu_ tests needing only libcudart,
#                                       # strips them and copies them with libcudart into gpu-carry/ (git-ignored)
#   bash scripts/gpu-check.sh run       # there (carry gpu-carry/): runs every gpu_ test, logs into $OUT (or ./gpu-out)
#
# Each test compares with an independent reference (host data, a CPU computation); a missing GPU fails them loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
carry=gpu-carry
case "${1:-}" in
  prepare)
    source scripts/nvidia-wheels.sh
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trt-yolo/target}"
    unset TENSORRT_INCLUDE_DIR
    rm -rf "$carry" && mkdir -p "$carry/lib"
    grep -qx "/$carry/" .git/info/exclude 2>/dev/null || echo "/$carry/" >> .git/info/exclude
    # trt-sys's unit tests (CUDA runtime bindings), trt's unit tests and its tests/gpu.rs (buffers, streams, events,
    # graphs).
    cargo test --locked -p trt-sys -p trt --no-run --message-format=json 2>/dev/null |
      python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        name = m["target"]["name"]
        if (name, m["target"]["kind"][0]) in {("trt_sys", "lib"), ("trt", "lib"), ("gpu", "test")}:
            print(m["executable"])' |
      while read -r exe; do
        cp "$exe" "$carry/$(basename "$exe" | sed 's/-[0-9a-f]*$//')"
      done
    strip "$carry"/trt_sys "$carry"/trt "$carry"/gpu 2>/dev/null || true
    cp "$TRT_TEST_CUDART_DIR/libcudart.so.13" "$carry/lib/"
    du -sh "$carry"
    ;;
  run)
    out="${OUT:-$PWD/gpu-out}"
    mkdir -p "$out"
    nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
    export TRT_TEST_CUDART_DIR="$PWD/$carry/lib" CUDA_LIB_DIR="$PWD/$carry/lib"
    status=0
    for t in trt_sys trt gpu; do
      echo "== $t"
      "./$carry/$t" --ignored gpu_ --test-threads=1 2>&1 | tee "$out/$t.log" || status=1
    done
    grep -h "^test result" "$out"/*.log || true
    exit $status
    ;;
  *)
    echo "usage: bash scripts/gpu-check.sh prepare|run" >&2
    exit 2
    ;;
esac
