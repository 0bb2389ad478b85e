#!/usr/bin/env bash
# The main job (README): generate an unfused YOLO-style ONNX, re-parameterize it, and build a real TensorRT engine
# with its sidecar under engines/out/, on any Linux x86-64 machine, with or without a GPU.
#
# Where an Enterprise TensorRT is installed (headers found by trt-sys's probe, or TENSORRT_INCLUDE_DIR set) the tools
# are built against it. Otherwise the script sets up NVIDIA TensorRT for RTX — its libraries from PyPI
# (tensorrt-rtx-cu13-libs, nvidia-cuda-runtime) and its headers from crates.io (trtx-sys) — in ~/.cache/trt-yolo,
# which builds engines ahead of time with no GPU. Nothing fetched goes into the repository. The last lines name the
# engine and the tools used (`tools: DIR`); those binaries find the cached libraries by themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trt-yolo/target}"
out=engines/out
mkdir -p "$out"

enterprise_headers() {
  local d
  for d in ${TENSORRT_INCLUDE_DIR:-} ${TENSORRT_ROOT:+$TENSORRT_ROOT/include} /usr/include/x86_64-linux-gnu \
    /usr/include/aarch64-linux-gnu /usr/local/tensorrt/include /usr/include; do
    if [ -f "$d/NvInfer.h" ] && [ -f "$d/NvOnnxParser.h" ] && ! grep -q "define TRT_MAJOR_RTX" "$d/NvInferVersion.h" 2>/dev/null; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

echo "== 0. TensorRT for this machine"
if inc=$(enterprise_headers); then
  flavour=tensorrt
  export TENSORRT_INCLUDE_DIR="$inc"
  features=trt-tools/require-tensorrt
  echo "TensorRT headers: $inc"
  if [ -z "${CUDA_INCLUDE_DIR:-}" ] && [ ! -f /usr/local/cuda/include/cuda_runtime_api.h ]; then
    source scripts/nvidia-wheels.sh
    export CUDA_INCLUDE_DIR="$TRT_TEST_CUDA_INCLUDE_DIR"
  fi
else
  flavour=rtx
  source scripts/nvidia-wheels.sh
  source scripts/tensorrt-headers.sh
  export TENSORRT_INCLUDE_DIR="$TRT_CRATES_HEADERS/rtx1.7/include"
  export CUDA_INCLUDE_DIR="$TRT_TEST_CUDA_INCLUDE_DIR"
  features=trt-tools/require-tensorrt-rtx
  echo "no Enterprise TensorRT here: using TensorRT for RTX 1.7 ($(dirname "$TRT_TEST_RTX_LIB"))"
fi

echo "== 1. build the tools with the TensorRT shim ($features)"
# The dev profile builds dependencies at opt-level 2 (Cargo.toml), so the tools run at full speed and share the test
# command's build cache. The binaries are copied to their own directory: later builds of other configurations in the
# same target directory do not touch them.
cargo build --locked -p trt-tools --bins --features "$features"
tools="$CARGO_TARGET_DIR/trt-yolo-tools/$flavour"
mkdir -p "$tools"
for b in trt-build trt-onnx trt-inspect trt-detect trt-bench; do
  cp -f "$CARGO_TARGET_DIR/debug/$b" "$tools/$b.tmp" && mv -f "$tools/$b.tmp" "$tools/$b"
done

echo "== 2. generate an unfused YOLOv9-style sample model (RepConv, Conv+BN, DFL head)"
"$tools/trt-onnx" sample --kind yolov9 -o "$out/sample.onnx"
echo "== 3. inspect it: fusible patterns and lint"
"$tools/trt-onnx" inspect "$out/sample.onnx"
echo "== 4. re-parameterize and verify numerically on the CPU executor"
"$tools/trt-onnx" fuse "$out/sample.onnx" -o "$out/sample.fused.onnx"
echo "== 5. what this machine can do"
"$tools/trt-inspect" system || true

echo "== 6. build the FP16 engine"
set +e
if [ "$flavour" = rtx ]; then
  # engines/sample.rtx-fp16.toml: TensorRT-RTX's portable set of compute capabilities, no GPU needed.
  engine="$out/sample.fp16.rtx.engine"
  "$tools/trt-build" --recipe engines/sample.rtx-fp16.toml "$@"
else
  engine="$out/sample.fp16.engine"
  "$tools/trt-build" "$out/sample.onnx" --fp16 --shapes images:1x3x128x128 -o "$engine" "$@"
fi
code=$?
set -e
case $code in
  0) ;;
  3) echo "trt-build: TensorRT or a usable GPU is missing here (see above); the plan above is what it would build."
     exit 3 ;;
  *) exit $code ;;
esac

echo "== 7. check the engine: sidecar, checksum and (TensorRT-RTX) NVIDIA's own validity check"
"$tools/trt-inspect" "$engine"
echo "engine: $engine (sidecar $engine.json)"
echo "tools: $tools"
