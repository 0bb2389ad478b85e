#!/usr/bin/env bash
# Header matrix: builds and tests trt-sys with the TensorRT shim compiled against each TensorRT release's headers,
# and proves that nothing links TensorRT (no undefined nvinfer/nvonnxparser symbol in the test binary).
#
#   trt-sys/scripts/header-matrix.sh [VERSION...]   (default: 8.5 8.6 10.3 10.16 11.1 11.4 rtx1.6 rtx1.7)
#
# Environment:
#   TRT_HEADERS_ROOT  directory holding <version>/include for the fetched releases (default /work/ext/trt); 11.4,
#                     rtx1.6 and rtx1.7 are taken from there when present, else from the crates.io headers that
#                     scripts/tensorrt-headers.sh caches (~/.cache/trt-yolo/headers)
#   CUDA_INCLUDE_DIR  CUDA include directory with cuda_runtime_api.h (default: the PyPI CUDA headers that
#                     scripts/nvidia-wheels.sh caches)
#   TRT_LEAN_LIB      real lean runtime; when it exists, the ignored real-library (reallib_) tests run for the
#                     matching major (default: the cached tensorrt-lean-cu13-libs 11.4)
#   TRT_DISPATCH_LIB  real dispatch runtime for those tests (default: the cached tensorrt-dispatch-cu13-libs 11.4)
#   CUDA_LIB_DIR      where libcudart lives for that test (default: the cached nvidia-cuda-runtime)
# Versions named rtxX.Y are TensorRT for RTX (built with feature require-tensorrt-rtx; with TRT_TEST_RTX_LIB set,
# their rtx_ tests run against the real library). Each release builds in its own target directory
# (target/matrix-<version>) so switching releases never rebuilds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
source scripts/nvidia-wheels.sh
source scripts/tensorrt-headers.sh
crates_headers=$TRT_CRATES_HEADERS
headers_root=${TRT_HEADERS_ROOT:-/work/ext/trt}
export CUDA_INCLUDE_DIR=${CUDA_INCLUDE_DIR:-$TRT_TEST_CUDA_INCLUDE_DIR}
lean_lib=${TRT_LEAN_LIB:-$TRT_TEST_LEAN_LIB}
dispatch_lib=${TRT_DISPATCH_LIB:-$TRT_TEST_DISPATCH_LIB}
cuda_lib_dir=${CUDA_LIB_DIR:-$TRT_TEST_CUDART_DIR}
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(8.5 8.6 10.3 10.16 11.1 11.4 rtx1.6 rtx1.7)

declare -a summary
status=0
for v in "${versions[@]}"; do
    inc="$headers_root/$v/include"
    [ -f "$inc/NvInfer.h" ] || inc="$crates_headers/$v/include"
    feature=require-tensorrt
    case $v in rtx*) feature=require-tensorrt-rtx ;; esac
    echo "=== TensorRT $v headers: $inc"
    if [ ! -f "$inc/NvInfer.h" ]; then
        echo "missing $inc/NvInfer.h" >&2
        summary+=("$v: FAIL (no headers)")
        status=1
        continue
    fi
    export TENSORRT_INCLUDE_DIR="$inc"
    export CARGO_TARGET_DIR="$root/target/matrix-$v"
    result="ok"
    if ! cargo build -p trt-sys --features "$feature"; then
        summary+=("$v: FAIL (build)")
        status=1
        continue
    fi
    if ! test_out=$(cargo test -p trt-sys --features "$feature" 2>&1); then
        echo "$test_out"
        summary+=("$v: FAIL (tests)")
        status=1
        continue
    fi
    echo "$test_out" | grep -E "^test result|Running" || true
    passed=$(echo "$test_out" | grep -Eo "[0-9]+ passed" | awk '{s+=$1} END {print s+0}')
    bin=$(cargo test -p trt-sys --features "$feature" --lib --no-run 2>&1 |
        grep -Eo "\(([^)]*/deps/trt_sys-[0-9a-f]+)\)" | tr -d '()' | tail -1)
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        summary+=("$v: FAIL (test binary not found)")
        status=1
        continue
    fi
    # The shim must really be in the binary ...
    if ! grep -q "trtshim::new_runtime" <(nm -C "$bin"); then
        summary+=("$v: FAIL (shim not compiled into $bin)")
        status=1
        continue
    fi
    # ... and must not reference any TensorRT symbol: everything comes through dlopen/dlsym.
    undefined=$(nm -u "$bin" | grep -Ei "nvinfer|nvonnxparser|createInfer|createNvOnnx|initLibNvInfer|getInferLibVersion|getPluginRegistry" || true)
    if [ -n "$undefined" ]; then
        echo "undefined TensorRT symbols in $bin:" >&2
        echo "$undefined" >&2
        summary+=("$v: FAIL (links TensorRT symbols)")
        status=1
        continue
    fi
    major=${v%%.*}
    if [ "$feature" = require-tensorrt-rtx ]; then
        # The real TensorRT-RTX library: loader, builder without a GPU, header validity check.
        if TRT_TEST_RTX_LIB="$TRT_TEST_RTX_LIB" TRT_TEST_CUDART_DIR="$cuda_lib_dir" \
            cargo test -p trt-sys --features "$feature" --lib -- --ignored --test-threads=1 rtx_ \
            >"$CARGO_TARGET_DIR/rtx-test.log" 2>&1 &&
            grep -q "^test result: ok\. [1-9][0-9]* passed; 0 failed" "$CARGO_TARGET_DIR/rtx-test.log"; then
            n=$(grep -Eo "[0-9]+ passed" "$CARGO_TARGET_DIR/rtx-test.log" | awk '{s+=$1} END {print s+0}')
            result="$result, $n real TensorRT-RTX tests ok"
        else
            cat "$CARGO_TARGET_DIR/rtx-test.log" >&2
            summary+=("$v: FAIL (real TensorRT-RTX tests)")
            status=1
            continue
        fi
    elif [ -f "$lean_lib" ] && [[ "$(basename "$lean_lib")" == *".so.$major" ]]; then
        # Every real-library test of trt-sys, now with the shim compiled: the lean runtime without a GPU (a clean
        # CUDA error), plugin libraries registered through the real IPluginRegistry, the loader's lean/dispatch tests.
        if TRT_TEST_LEAN_LIB="$lean_lib" TRT_TEST_DISPATCH_LIB="$dispatch_lib" TRT_TEST_CUDART_DIR="$cuda_lib_dir" \
            CUDA_LIB_DIR="$cuda_lib_dir" \
            cargo test -p trt-sys --features require-tensorrt --lib -- --ignored --nocapture --test-threads=1 reallib_ \
            >"$CARGO_TARGET_DIR/lean-test.log" 2>&1 &&
            grep -q "^test result: ok\. [0-9]* passed; 0 failed" "$CARGO_TARGET_DIR/lean-test.log" &&
            grep -q "^test shim::tests::with_headers::reallib_lean_runtime_without_gpu_fails_with_a_cuda_error" "$CARGO_TARGET_DIR/lean-test.log" &&
            grep -q "^test plugin_lib::tests::reallib_registry_plugin_library_loads_through_iplugin_registry ... ok" "$CARGO_TARGET_DIR/lean-test.log"; then
            n=$(grep -Eo "[0-9]+ passed" "$CARGO_TARGET_DIR/lean-test.log" | awk '{s+=$1} END {print s+0}')
            result="$result, $n real-library tests ok: $(grep -o -m1 'runtime error: .*' "$CARGO_TARGET_DIR/lean-test.log" || true)"
        else
            cat "$CARGO_TARGET_DIR/lean-test.log" >&2
            summary+=("$v: FAIL (real-library tests)")
            status=1
            continue
        fi
    fi
    summary+=("$v: $result ($passed tests passed; nm -u: no nvinfer/nvonnxparser symbol in $(basename "$bin"))")
done

echo
echo "=== header matrix"
printf '%s\n' "${summary[@]}"
exit $status
