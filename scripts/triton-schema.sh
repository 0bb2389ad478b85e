#!/usr/bin/env bash
# Fetches Triton's ModelConfig schema as tritonclient ships it (the generated model_config_pb2 module) and the
# protobuf runtime, from PyPI, into a cache outside the repository, and exports what the config tests read:
#   TRT_TEST_TRITON_PYTHONPATH  where the two wheels are unpacked
#   TRT_TEST_TRITON_LOG         a file scripts/triton-config-check.py appends one line to per config it parsed
# Source it. Nothing fetched here is ever committed.
set -euo pipefail
TRITON_CACHE="${TRT_YOLO_CACHE:-$HOME/.cache/trt-yolo}/triton"
TRITON_WHEELS=("tritonclient==2.73.0" "protobuf==7.36.2")
want="${TRITON_WHEELS[*]}"
if [ "$(cat "$TRITON_CACHE/.complete" 2>/dev/null)" != "$want" ]; then
  rm -rf "$TRITON_CACHE/root"
  source "$(dirname "${BASH_SOURCE[0]}")/wheels.sh"
  fetch_wheels "$TRITON_CACHE" triton-schema.sh "${TRITON_WHEELS[@]}"
fi
export TRT_TEST_TRITON_PYTHONPATH="$TRITON_CACHE/root"
[ -f "$TRT_TEST_TRITON_PYTHONPATH/tritonclient/grpc/model_config_pb2.py" ] || {
  echo "triton-schema.sh: tritonclient/grpc/model_config_pb2.py missing after unpacking" >&2
  exit 1
}
