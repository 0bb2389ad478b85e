#!/usr/bin/env bash
# Regenerates trt-sys/src/cuda/bindings.rs (committed) from the CUDA runtime headers with bindgen.
#
#   CUDA_INCLUDE_DIR=/usr/local/cuda/include trt-sys/scripts/gen-cuda-bindings.sh [OUTPUT]
#
# CUDA_INCLUDE_DIR: a directory containing cuda_runtime_api.h (a CUDA toolkit's include/, or the include/
# directory of the nvidia-cuda-runtime and nvidia-cuda-crt wheels). Needs libclang (apt-get install libclang-dev)
# and cargo. The generator is trt-sys/build/cuda_bindgen.rs (also used by build.rs under the
# `regenerate-cuda-bindings` feature), built in a throwaway crate with exact versions of bindgen and
# prettyplease pinned, so the output depends only on the headers.
set -euo pipefail

crate_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CUDA_INCLUDE_DIR:?set CUDA_INCLUDE_DIR to a CUDA include directory containing cuda_runtime_api.h}"
out=${1:-$crate_dir/src/cuda/bindings.rs}
work=${CUDA_BINDGEN_WORK_DIR:-$crate_dir/../target/cuda-bindgen-gen}

mkdir -p "$work/src"
cat >"$work/Cargo.toml" <<'TOML'
[package]
name = "cuda-bindgen-gen"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
bindgen = { version = "=0.72.1", default-features = false, features = ["runtime", "prettyplease"] }
prettyplease = "=0.2.37"

[workspace]
TOML
cat >"$work/src/main.rs" <<RS
include!("$crate_dir/build/cuda_bindgen.rs");

fn main() {
    let mut args = std::env::args_os().skip(1);
    let include_dir = std::path::PathBuf::from(args.next().expect("include dir"));
    let out = std::path::PathBuf::from(args.next().expect("output file"));
    match generate_cuda_bindings(&include_dir) {
        Ok(text) => std::fs::write(&out, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display())),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
RS

cargo run --quiet --manifest-path "$work/Cargo.toml" -- "$CUDA_INCLUDE_DIR" "$out"
echo "wrote $out"
