#!/usr/bin/env bash
# Fetches the real NVIDIA libraries that PyPI carries (libcudart, the TensorRT 11.4 lean and dispatch runtimes, and
# TensorRT for RTX 1.7: builder, runtime and ONNX parser) and the CUDA headers into a cache outside the repository
# (laid out like site-packages: the tools find it by default), and exports the variables the real-library tests read.
# Source it. Nothing fetched here is ever committed.
set -euo pipefail
NV_CACHE="${TRT_YOLO_CACHE:-$HOME/.cache/trt-yolo}/nvidia"
NV_WHEELS=(
  "nvidia-cuda-runtime==13.5.37"
  "nvidia-cuda-crt==13.5.37"
  "tensorrt-lean-cu13-libs==11.4.0.106"
  "tensorrt-dispatch-cu13-libs==11.4.0.106"
  "tensorrt-rtx-cu13-libs==1.7.1.116"
)
# One marker per wheel set: a new wheel in the list fetches what is missing, an unchanged list fetches nothing.
want="${NV_WHEELS[*]}"
if [ "$(cat "$NV_CACHE/.complete" 2>/dev/null)" != "$want" ]; then
  source "$(dirname "${BASH_SOURCE[0]}")/wheels.sh"
  fetch_wheels "$NV_CACHE" nvidia-wheels.sh "${NV_WHEELS[@]}"
fi
export TRT_TEST_CUDART_DIR="$NV_CACHE/root/nvidia/cu13/lib"
export TRT_TEST_LEAN_LIB="$NV_CACHE/root/tensorrt_lean_libs/libnvinfer_lean.so.11"
export TRT_TEST_DISPATCH_LIB="$NV_CACHE/root/tensorrt_dispatch_libs/libnvinfer_dispatch.so.11"
export TRT_TEST_RTX_LIB="$NV_CACHE/root/tensorrt_rtx_libs/libtensorrt_rtx.so.1"
export TRT_TEST_CUDA_INCLUDE_DIR="$NV_CACHE/root/nvidia/cu13/include"
for f in "$TRT_TEST_CUDART_DIR/libcudart.so.13" "$TRT_TEST_LEAN_LIB" "$TRT_TEST_DISPATCH_LIB" "$TRT_TEST_RTX_LIB" \
  "$NV_CACHE/root/tensorrt_rtx_libs/libtensorrt_onnxparser_rtx.so.1"; do
  [ -f "$f" ] || { echo "nvidia-wheels.sh: expected $f after unpacking the wheels" >&2; exit 1; }
done
