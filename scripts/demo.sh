#!/usr/bin/env bash
# The main job (README): build the tools, generate an unfused YOLO-style ONNX model, re-parameterize it, and build a
# TensorRT engine from it with trt-build. Where TensorRT or a GPU is missing, trt-build runs every step that needs neither,
# prints its plan, says exactly what is missing and exits 3; this script passes that exit code on.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dev profile builds dependencies at opt-level 2 (Cargo.toml), so the tools run at full speed and share the
# test command's build cache.
cargo build --locked -p trt-tools --bins
bin="${CARGO_TARGET_DIR:-target}/debug"
out=engines/out
mkdir -p "$out"

echo "== 1. generate an unfused YOLOv9-style sample model (RepConv, Conv+BN, DFL head) =="
"$bin/trt-onnx" sample --kind yolov9 -o "$out/sample.onnx"
echo "== 2. inspect it: fusible patterns and lint =="
"$bin/trt-onnx" inspect "$out/sample.onnx"
echo "== 3. re-parameterize and verify numerically on the CPU executor =="
"$bin/trt-onnx" fuse "$out/sample.onnx" -o "$out/sample.fused.onnx"
echo "== 4. what this machine can do =="
"$bin/trt-inspect" system || true
echo "== 5. build the FP16 engine (engines/sample.fp16.toml) =="
set +e
"$bin/trt-build" --recipe engines/sample.fp16.toml "$@"
code=$?
set -e
case $code in
  0) echo "engine written under $out/" ;;
  3) echo "trt-build: TensorRT or a usable GPU is missing here (see above); the plan above is what it would build." ;;
esac
exit $code
