#!/usr/bin/env bash
# Fetches the real NVIDIA run-time libraries that PyPI carries (libcudart, TensorRT lean and dispatch runtimes) and the CUDA
# headers into a cache outside the repository, and exports the variables the real-library tests read. Source it.
# Nothing fetched here is ever committed.
set -euo pipefail
NV_CACHE="${TRT_YOLO_CACHE:-$HOME/.cache/trt-yolo}/nvidia"
NV_WHEELS=(
  "nvidia-cuda-runtime==13.5.37"
  "nvidia-cuda-crt==13.5.37"
  "tensorrt-lean-cu13-libs==11.4.0.106"
  "tensorrt-dispatch-cu13-libs==11.4.0.106"
)
if [ ! -f "$NV_CACHE/.complete" ]; then
  rm -rf "$NV_CACHE"
  mkdir -p "$NV_CACHE/wheels" "$NV_CACHE/root"
  python3 -m pip download --quiet --no-deps --dest "$NV_CACHE/wheels" "${NV_WHEELS[@]}"
  for w in "$NV_CACHE"/wheels/*.whl; do python3 -m zipfile -e "$w" "$NV_CACHE/root/"; done
  rm -rf "$NV_CACHE/wheels"
  touch "$NV_CACHE/.complete"
fi
export TRT_TEST_CUDART_DIR="$NV_CACHE/root/nvidia/cu13/lib"
export TRT_TEST_LEAN_LIB="$NV_CACHE/root/tensorrt_lean_libs/libnvinfer_lean.so.11"
export TRT_TEST_DISPATCH_LIB="$NV_CACHE/root/tensorrt_dispatch_libs/libnvinfer_dispatch.so.11"
export TRT_TEST_CUDA_INCLUDE_DIR="$NV_CACHE/root/nvidia/cu13/include"
for f in "$TRT_TEST_CUDART_DIR/libcudart.so.13" "$TRT_TEST_LEAN_LIB" "$TRT_TEST_DISPATCH_LIB"; do
  [ -f "$f" ] || { echo "nvidia-wheels.sh: expected $f after unpacking the wheels" >&2; exit 1; }
done
