#!/usr/bin/env bash
# Header matrix for the whole workspace: for each TensorRT release, build every crate and binary with the TensorRT shim
# compiled against that release's headers (`--features trt-sys/require-tensorrt`), run the trt-sys and trt tests, and
# prove that no binary links TensorRT (`nm -u` lists no nvinfer/nvonnxparser symbol). trt-sys/scripts/header-matrix.sh
# does the same for trt-sys alone, plus the real lean-runtime test.
#
#   scripts/header-matrix.sh [VERSION...]      (default: 8.5 8.6 10.3 10.16 11.1 11.4 rtx1.6 rtx1.7)
#
# TRT_HEADERS_ROOT holds <version>/include for the releases fetched from NVIDIA's repositories (outside the
# repository; never committed; default /work/ext/trt); 11.4, rtx1.6 and rtx1.7 fall back to the crates.io headers
# that scripts/tensorrt-headers.sh caches. CUDA_INCLUDE_DIR defaults to the CUDA headers that
# scripts/nvidia-wheels.sh unpacks from PyPI. Versions named rtxX.Y are TensorRT for RTX.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/nvidia-wheels.sh
source scripts/tensorrt-headers.sh
crates_headers=$TRT_CRATES_HEADERS
headers_root=${TRT_HEADERS_ROOT:-/work/ext/trt}
export CUDA_INCLUDE_DIR="${CUDA_INCLUDE_DIR:-$TRT_TEST_CUDA_INCLUDE_DIR}"
export CARGO_TARGET_DIR="${MATRIX_TARGET_DIR:-$PWD/target/matrix-workspace}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(8.5 8.6 10.3 10.16 11.1 11.4 rtx1.6 rtx1.7)
summary=()
status=0
for v in "${versions[@]}"; do
  export TENSORRT_INCLUDE_DIR="$headers_root/$v/include"
  [ -f "$TENSORRT_INCLUDE_DIR/NvInfer.h" ] || TENSORRT_INCLUDE_DIR="$crates_headers/$v/include"
  feature=trt-sys/require-tensorrt
  case $v in rtx*) feature=trt-sys/require-tensorrt-rtx ;; esac
  echo "=== TensorRT $v: $TENSORRT_INCLUDE_DIR"
  if ! cargo build --workspace --all-targets --features "$feature"; then
    summary+=("$v: FAIL (build)"); status=1; continue
  fi
  # The trybuild compile-fail snapshots name trt-sys internals that differ once the shim is compiled; the borrow
  # rules they check do not depend on headers and run in the default (CI) build.
  if ! out=$(cargo test -p trt-sys -p trt --features "$feature" -- --skip borrow_rules_reject_unsound_programs 2>&1); then
    echo "$out" | tail -40; summary+=("$v: FAIL (tests)"); status=1; continue
  fi
  passed=$(echo "$out" | grep -Eo "[0-9]+ passed" | awk '{s+=$1} END {print s+0}')
  linked=""
  # trt-onnx never touches TensorRT; the other programs must carry the shim and still import nothing from TensorRT.
  for bin in trt-build trt-inspect trt-detect trt-bench trt-onnx; do
    f="$CARGO_TARGET_DIR/debug/$bin"
    [ -x "$f" ] || { linked+=" $bin:missing"; continue; }
    shim=$(nm -C "$f" | grep -c "trtshim::" || true)
    [ "$bin" = trt-onnx ] || [ "$shim" -gt 0 ] || linked+=" $bin:no-shim"
    n=$(nm -u "$f" | grep -Eci "nvinfer|nvonnxparser|createInfer|getInferLib" || true)
    [ "$n" = 0 ] || linked+=" $bin:$n"
  done
  if [ -n "$linked" ]; then summary+=("$v: FAIL (nm -u / shim check:$linked)"); status=1; continue; fi
  summary+=("$v: ok ($passed trt-sys+trt tests passed; shim linked into trt-build/inspect/detect/bench; nm -u lists no TensorRT symbol in any binary)")
done
printf '%s\n' "${summary[@]}"
exit $status
