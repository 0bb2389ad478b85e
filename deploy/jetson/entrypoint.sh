#!/bin/sh
# trt-yolo container entrypoint (deploy/jetson).
#
# 1. Checks that TensorRT, CUDA and a GPU are usable here (`trt-inspect system`); exit 3 with the reasons if not.
# 2. Engines are not portable between GPUs or TensorRT releases, so the engine is built ON THIS DEVICE from a recipe
#    on first start and cached in $TRT_ENGINE_CACHE (a volume). The cache key is
#    sha256(recipe file + TensorRT version + GPU name + compute capability + extra trt-build flags); the engine's
#    sidecar is checked again with `trt-inspect ENGINE` before reuse, and a stale or corrupt engine is rebuilt.
# 3. Starts the detector: `trt-detect --model ENGINE $TRT_DETECT_ARGS $TRT_DETECT_INPUT` by default (trt-detect
#    processes the images in a directory and exits), or the command given to `docker run` with the engine path in
#    $TRT_ENGINE (e.g. your own service binary, or `trt-bench "$TRT_ENGINE"`).
#
# Environment:
#   TRT_RECIPE        recipe name under /opt/trt-yolo/engines (without .toml) or a path      [image default]
#   TRT_ENGINE_CACHE  engine cache directory (mount a volume here)                           [/var/cache/trt-yolo]
#   TRT_BUILD_ARGS    extra trt-build flags, e.g. "--workspace 1G" or "--mem-pool-size workspace:512M" (part of the key)
#   TRT_DETECT_INPUT  directory of images for the default trt-detect command                  [/data/in]
#   TRT_DETECT_ARGS   extra trt-detect flags                                                  [--json]
#   TRT_REBUILD=1     ignore the cache and rebuild
#   TRT_ENGINES_DIR   where recipe names are looked up                                        [/opt/trt-yolo/engines]
#   TRT_DEEPSTREAM_DIR  also write the DeepStream nvinfer config for the engine there (config_infer_primary.txt,
#                     labels.txt; the DeepStream image sets it); a cached engine whose config is missing is rebuilt
set -eu

log() { printf 'trt-yolo: %s\n' "$*" >&2; }
die() { code=$1; shift; log "error: $*"; exit "$code"; }

ENGINES_DIR=${TRT_ENGINES_DIR:-/opt/trt-yolo/engines}
CACHE=${TRT_ENGINE_CACHE:-/var/cache/trt-yolo}
RECIPE=${TRT_RECIPE:?set TRT_RECIPE to a recipe name (see /opt/trt-yolo/engines) or path}
BUILD_ARGS=${TRT_BUILD_ARGS:-}

case "$RECIPE" in
    */*|*.toml) RECIPE_FILE=$RECIPE ;;
    *) RECIPE_FILE=$ENGINES_DIR/$RECIPE.toml ;;
esac
[ -f "$RECIPE_FILE" ] || die 1 "recipe $RECIPE_FILE not found; available: $(find "$ENGINES_DIR" -name '*.toml' -exec basename {} .toml \; 2>/dev/null | tr '\n' ' ')"

# 1. What this device offers.
SYSTEM_JSON=$(trt-inspect system --json) || {
    code=$?
    log "TensorRT/CUDA/GPU check failed (trt-inspect system exit $code):"
    printf '%s\n' "${SYSTEM_JSON:-}" | jq -r '.run_blockers[]?, .build_blockers[]?' >&2 || true
    log "run the container with --runtime nvidia on a Jetson with the JetPack release this image targets"
    exit 3
}
TRT_VERSION=$(printf '%s' "$SYSTEM_JSON" | jq -r '.tensorrt.version // "unknown"')
GPU_NAME=$(printf '%s' "$SYSTEM_JSON" | jq -r '.cuda.gpus[0].name // "unknown"')
GPU_CC=$(printf '%s' "$SYSTEM_JSON" | jq -r '.cuda.gpus[0].compute_capability // "unknown"')
[ "$GPU_NAME" != unknown ] || die 3 "no usable GPU reported by trt-inspect system"

# 2. Engine cache keyed by recipe + TensorRT + GPU (+ extra build flags).
KEY=$( { cat "$RECIPE_FILE"; printf '\n%s\n%s\n%s\n%s\n' "$TRT_VERSION" "$GPU_NAME" "$GPU_CC" "$BUILD_ARGS"; } \
       | sha256sum | cut -c1-16)
NAME=$(basename "$RECIPE_FILE" .toml)
ENGINE=$CACHE/$NAME-trt$TRT_VERSION-$KEY.engine
mkdir -p "$CACHE"

DS_DIR=${TRT_DEEPSTREAM_DIR:-}
build_engine() {
    log "building $ENGINE from $RECIPE_FILE on $GPU_NAME (sm $GPU_CC, TensorRT $TRT_VERSION); this takes minutes"
    set --
    [ -z "$DS_DIR" ] || set -- --deepstream "$DS_DIR"
    # shellcheck disable=SC2086 # TRT_BUILD_ARGS is a list of flags
    trt-build --recipe "$RECIPE_FILE" --output "$ENGINE" "$@" $BUILD_ARGS \
        || die $? "engine build failed; on small Jetsons lower the workspace (TRT_BUILD_ARGS=\"--workspace 512M\") and add swap (README)"
}

(
    # One builder at a time per cache volume.
    flock 9
    if [ "${TRT_REBUILD:-0}" = 1 ]; then
        build_engine
    elif [ -n "$DS_DIR" ] && ! grep -qsF "model-engine-file=$ENGINE" "$DS_DIR/config_infer_primary.txt"; then
        log "no DeepStream config for $ENGINE in $DS_DIR; building"
        build_engine
    elif [ -f "$ENGINE" ] && trt-inspect "$ENGINE" >/dev/null 2>&1; then
        log "reusing cached engine $ENGINE (sidecar matches TensorRT $TRT_VERSION on $GPU_NAME)"
    else
        [ ! -f "$ENGINE" ] || log "cached engine $ENGINE does not match this device or is damaged; rebuilding"
        build_engine
    fi
) 9>"$CACHE/.lock"

export TRT_ENGINE="$ENGINE"

# 3. The detector (or the command given to docker run).
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
INPUT=${TRT_DETECT_INPUT:-/data/in}
[ -d "$INPUT" ] || die 1 "no input directory $INPUT: mount images there (-v /path/to/images:$INPUT) or pass a command"
# shellcheck disable=SC2086 # TRT_DETECT_ARGS is a list of flags
exec trt-detect --model "$ENGINE" ${TRT_DETECT_ARGS:---json} "$INPUT"
