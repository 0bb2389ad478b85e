#!/usr/bin/env bash
# Fetches onnxruntime's C library for the `ortlib_` tests and the calibration/verification benchmarks: the
# libonnxruntime.so.* that PyPI's onnxruntime wheel ships in onnxruntime/capi/, unpacked into a cache outside the
# repository, and exports its path as TRT_TEST_ORT_DYLIB (the steps that want onnxruntime pass it on as ORT_DYLIB_PATH, where
# yolo-onnx's onnxruntime executor opens it; the other steps run on tract). Source it.
# Nothing fetched is ever committed.
set -euo pipefail
ORT_CACHE="${TRT_YOLO_CACHE:-$HOME/.cache/trt-yolo}/onnxruntime"
ORT_WHEELS=("onnxruntime==1.32.0")
if [ "$(cat "$ORT_CACHE/.complete" 2>/dev/null)" != "${ORT_WHEELS[*]}" ]; then
  source "$(dirname "${BASH_SOURCE[0]}")/wheels.sh"
  # Only the C library is used: one fixed CPython 3.12 / manylinux_2_28 wheel, whatever python3 this machine has
  # (onnxruntime 1.32 publishes no wheel for 3.10).
  WHEEL_PIP_ARGS=(--python-version 3.12 --implementation cp --abi cp312 --platform manylinux_2_28_x86_64)
  fetch_wheels "$ORT_CACHE" onnxruntime.sh "${ORT_WHEELS[@]}"
  unset WHEEL_PIP_ARGS
fi
TRT_TEST_ORT_DYLIB=$(find "$ORT_CACHE/root/onnxruntime/capi" -maxdepth 1 -type f -name 'libonnxruntime.so.*' 2>/dev/null |
  sort | head -n 1)
if [ -z "$TRT_TEST_ORT_DYLIB" ]; then
  echo "onnxruntime.sh: no onnxruntime/capi/libonnxruntime.so.* under $ORT_CACHE/root after unpacking ${ORT_WHEELS[*]}" >&2
  exit 1
fi
export TRT_TEST_ORT_DYLIB
