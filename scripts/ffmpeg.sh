#!/usr/bin/env bash
# Fetches a static ffmpeg executable for trt-detect's video tests (`cargo test -p trt-tools --features video`): the one
# PyPI's imageio-ffmpeg wheel ships (imageio_ffmpeg/binaries/ffmpeg-*, no ffprobe, libx264 included), unpacked into a
# cache outside the repository, and exports its path as TRT_TEST_FFMPEG. Source it. Nothing fetched is ever committed.
set -euo pipefail
FF_CACHE="${TRT_YOLO_CACHE:-$HOME/.cache/trt-yolo}/ffmpeg"
FF_WHEELS=("imageio-ffmpeg==0.8.1")
if [ "$(cat "$FF_CACHE/.complete" 2>/dev/null)" != "${FF_WHEELS[*]}" ]; then
  source "$(dirname "${BASH_SOURCE[0]}")/wheels.sh"
  fetch_wheels "$FF_CACHE" ffmpeg.sh "${FF_WHEELS[@]}"
fi
TRT_TEST_FFMPEG=$(find "$FF_CACHE/root/imageio_ffmpeg/binaries" -maxdepth 1 -type f -name 'ffmpeg-*' 2>/dev/null |
  sort | head -n 1)
if [ -z "$TRT_TEST_FFMPEG" ]; then
  echo "ffmpeg.sh: no imageio_ffmpeg/binaries/ffmpeg-* under $FF_CACHE/root after unpacking ${FF_WHEELS[*]}" >&2
  exit 1
fi
# Wheels are unpacked as zip archives, which keep no file modes.
chmod +x "$TRT_TEST_FFMPEG"
"$TRT_TEST_FFMPEG" -hide_banner -version > /dev/null || {
  echo "ffmpeg.sh: $TRT_TEST_FFMPEG does not run on this machine" >&2
  exit 1
}
export TRT_TEST_FFMPEG
