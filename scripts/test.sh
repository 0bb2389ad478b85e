#!/usr/bin/env bash
# The project's test command (README, .ci/run): sets up what it needs on a fresh machine, then runs every test that needs
# no GPU, in three builds of the workspace:
#   1. no TensorRT headers (what docs.rs and a plain `cargo test` build): the CPU tests, and the real-library tests
#      against NVIDIA's libcudart and TensorRT 11.4 lean/dispatch runtimes from PyPI;
#   2. the TensorRT shim compiled against TensorRT 11.4's headers (crates.io): the same tests plus the shim's own,
#      and the real-library tests with the shim compiled in;
#   3. the shim compiled against TensorRT for RTX 1.7's headers: the same tests, and the `rtx_` tests that build real
#      engines with the real TensorRT-RTX builder (PyPI) — FP32, FP16, INT8, profiles, compute-capability targets —
#      and check them with its validity check.
# Plus trt-detect's videos (`--features video`) decoded and encoded by a real ffmpeg (PyPI's static build,
# scripts/ffmpeg.sh), onnxruntime from PyPI as the CPU executor against tract (scripts/onnxruntime.sh), a compile check
# of the shim against TensorRT-RTX 1.6's headers and the library docs. Triton
# configs are parsed with Triton's own ModelConfig schema (tritonclient from PyPI, scripts/triton-schema.sh); the
# DeepStream parser library runs in its C++ harness (needs c++). GPU tests are
# `#[ignore = "needs GPU"]`; run them on a GPU machine with `cargo test --workspace -- --ignored gpu_`.
# Downloads and build outputs are cached outside the repository (~/.cache/trt-yolo); later runs are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
source scripts/nvidia-wheels.sh
source scripts/tensorrt-headers.sh
source scripts/triton-schema.sh
source scripts/ffmpeg.sh
source scripts/onnxruntime.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trt-yolo/target}"
export CUDA_INCLUDE_DIR="$TRT_TEST_CUDA_INCLUDE_DIR"
# The trybuild compile-fail snapshots name trt-sys internals that differ once the shim is compiled; the borrow rules
# they check do not depend on headers and run in the first build.
skip_trybuild=(--skip borrow_rules_reject_unsound_programs)

log=$(mktemp)
TRT_TEST_TRITON_LOG=$(mktemp)
export TRT_TEST_TRITON_LOG
trap 'rm -f "$log" "$TRT_TEST_TRITON_LOG"' EXIT
run() {
  echo "== $1"
  shift
  "$@" 2>&1 | tee -a "$log"
}

unset TENSORRT_INCLUDE_DIR
run "cargo test (CPU tests, no TensorRT headers)" cargo test --workspace --locked
# The benchmarks (which print our figures against their peers) build with the tests, so they cannot rot.
run "cargo test --benches --no-run (the benchmarks compile)" cargo test --workspace --benches --no-run --locked
# trt-detect with --features video: video files, the ffmpeg command lines of cameras and streams, Ctrl-C and a closed
# stdout on a live source, all against PyPI's static ffmpeg (TRT_TEST_FFMPEG); the images path again in that build.
run "cargo test -p trt-tools --features video (trt-detect videos, real ffmpeg from PyPI)" \
  cargo test -p trt-tools --locked --features video --lib --test trt_detect_video --test trt_detect
run "cargo test (real NVIDIA libraries from PyPI, no GPU, no shim)" \
  cargo test --workspace --locked -- --ignored reallib_
# onnxruntime from PyPI (scripts/onnxruntime.sh) as the CPU executor, against tract: every sample model, calibration
# statistics at 1 and 2 threads, verification, the FP16 emulation, and trt-onnx choosing it by itself. The other steps
# run on tract (no ORT_DYLIB_PATH).
before=$(wc -l < "$log")
run "cargo test (onnxruntime from PyPI as the CPU executor)" \
  env ORT_DYLIB_PATH="$TRT_TEST_ORT_DYLIB" cargo test -p yolo-onnx -p trt-tools --locked --test onnxruntime \
  --test cpu_executor -- --ignored ortlib_
ort_passed=$(tail -n +"$((before + 1))" "$log" | grep -cE "^test .*ortlib_.* \.\.\. ok$" || true)
if [ "$ort_passed" -lt 6 ]; then
  echo "test.sh: only $ort_passed ortlib_ tests passed; the onnxruntime executor was not tested" >&2
  exit 1
fi
run "cargo test -p yolo-onnx --no-default-features (no onnxruntime built in: tract everywhere)" \
  cargo test -p yolo-onnx --locked --no-default-features --lib --test onnxruntime --test onnxruntime_missing

export TENSORRT_INCLUDE_DIR="$TRT_CRATES_HEADERS/11.4/include"
run "cargo test (shim compiled against TensorRT 11.4)" \
  cargo test --workspace --locked --features trt-sys/require-tensorrt -- "${skip_trybuild[@]}"
run "cargo test (real lean/dispatch runtimes with the TensorRT 11.4 shim, no GPU)" \
  cargo test --workspace --locked --features trt-sys/require-tensorrt -- --ignored reallib_

export TENSORRT_INCLUDE_DIR="$TRT_CRATES_HEADERS/rtx1.7/include"
run "cargo test (shim compiled against TensorRT-RTX 1.7)" \
  cargo test --workspace --locked --features trt-sys/require-tensorrt-rtx -- "${skip_trybuild[@]}"
before=$(wc -l < "$log")
run "cargo test (real TensorRT-RTX builder from PyPI, no GPU)" \
  env TRT_LIBRARY="$TRT_TEST_RTX_LIB" CUDA_LIB_DIR="$TRT_TEST_CUDART_DIR" \
  cargo test --workspace --locked --features trt-sys/require-tensorrt-rtx -- --ignored rtx_ --skip gpu_
# Enough real builds ran (only ignored rtx_ tests run in that step): a CI log without them is a failure, not a pass.
rtx_passed=$(tail -n +"$((before + 1))" "$log" | grep -cE "^test .*rtx_.* \.\.\. ok$" || true)
if [ "$rtx_passed" -lt 8 ]; then
  echo "test.sh: only $rtx_passed rtx_ tests passed; the real TensorRT-RTX builds did not run" >&2
  exit 1
fi

# Triton's own ModelConfig schema parsed the golden configs and the repositories of real TensorRT-RTX plans.
golden=$(grep -c "golden/triton/" "$TRT_TEST_TRITON_LOG" || true)
real=$(grep -c "/repo/" "$TRT_TEST_TRITON_LOG" || true)
if [ "$golden" -lt 2 ] || [ "$real" -lt 2 ]; then
  echo "test.sh: Triton's schema parsed $golden golden and $real real-plan configs (want 2 and 2)" >&2
  exit 1
fi

# TensorRT-RTX 1.6's headers: the shim compiles and its own tests pass (trt-sys alone, in its own target directory).
export TENSORRT_INCLUDE_DIR="$TRT_CRATES_HEADERS/rtx1.6/include"
run "cargo test -p trt-sys (shim compiled against TensorRT-RTX 1.6)" \
  env CARGO_TARGET_DIR="$CARGO_TARGET_DIR/rtx1.6" cargo test -p trt-sys --locked --features require-tensorrt-rtx
unset TENSORRT_INCLUDE_DIR

echo "== cargo doc of the libraries (no NVIDIA software)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --lib --no-deps --locked --quiet
# One closing line over every run, for readers of the CI log.
awk '/^test result:/ {p += $4; f += $6} END {printf "tests: %d passed, %d failed\n", p, f}' "$log"
