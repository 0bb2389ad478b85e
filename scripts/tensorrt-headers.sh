#!/usr/bin/env bash
# Fetches NVIDIA's public TensorRT headers from crates.io into a cache outside the repository: the crate
# `trtx-sys =0.9.1+rtx1.7` carries, under TensorRT-Headers/, the headers of TensorRT for RTX 1.3-1.7 and of TensorRT
# 11.4.0.106 (with NvOnnxParser.h). Only the headers are used (a throwaway manifest + `cargo fetch`); nothing of the
# crate's code is built or depended on, and nothing fetched is ever committed. Source it: it exports
# TRT_CRATES_HEADERS, holding <version>/include for 11.4, rtx1.6 and rtx1.7 (the layout scripts/header-matrix.sh reads).
set -euo pipefail
TRT_HEADERS_CACHE="${TRT_YOLO_CACHE:-$HOME/.cache/trt-yolo}/headers"
TRTX_CRATE="trtx-sys"
TRTX_VERSION="0.9.1+rtx1.7"
if [ "$(cat "$TRT_HEADERS_CACHE/.complete" 2>/dev/null)" != "$TRTX_CRATE-$TRTX_VERSION" ]; then
  rm -rf "$TRT_HEADERS_CACHE"
  mkdir -p "$TRT_HEADERS_CACHE/manifest/src"
  cat > "$TRT_HEADERS_CACHE/manifest/Cargo.toml" <<TOML
[package]
name = "trt-yolo-header-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$TRTX_CRATE = "=$TRTX_VERSION"
TOML
  : > "$TRT_HEADERS_CACHE/manifest/src/lib.rs"
  echo "tensorrt-headers.sh: fetching $TRTX_CRATE $TRTX_VERSION from crates.io (headers only)" >&2
  cargo fetch --quiet --manifest-path "$TRT_HEADERS_CACHE/manifest/Cargo.toml" \
    --target "$(rustc -vV | sed -n 's/^host: //p')"
  src=$(cargo metadata --quiet --format-version 1 --manifest-path "$TRT_HEADERS_CACHE/manifest/Cargo.toml" |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="'"$TRTX_CRATE"'"][0])')
  hdr="$(dirname "$src")/TensorRT-Headers"
  for pair in "11.4:TRT-Enterprise-11.4" "rtx1.6:TRT-RTX-1.6" "rtx1.7:TRT-RTX-1.7"; do
    dst="$TRT_HEADERS_CACHE/${pair%%:*}/include"
    mkdir -p "$dst"
    cp -R "$hdr/${pair#*:}/." "$dst/"
    [ -f "$dst/NvInferVersion.h" ] && [ -f "$dst/NvOnnxParser.h" ] ||
      { echo "tensorrt-headers.sh: $dst lacks NvInferVersion.h or NvOnnxParser.h" >&2; exit 1; }
  done
  rm -rf "$TRT_HEADERS_CACHE/manifest/target"
  echo "$TRTX_CRATE-$TRTX_VERSION" > "$TRT_HEADERS_CACHE/.complete"
fi
export TRT_CRATES_HEADERS="$TRT_HEADERS_CACHE"
