//! Build script for `trt-sys`.
//!
//! Probes for TensorRT and CUDA headers (never libraries: everything NVIDIA is opened at run time). With both found,
//! the C++ shim in `cpp/` is compiled through cxx-build, `cfg(trt_shim)` is set and the parsed TensorRT header version
//! is exposed to Rust as the environment variables `TRT_SYS_TENSORRT_VERSION` ("10.3.0.26") and
//! `TRT_SYS_TENSORRT_INCLUDE_DIR`. Without them nothing native is compiled; feature `require-tensorrt` turns that into
//! a build error naming the variables to set.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// Every shim source; each gets a `rerun-if-changed`.
const SHIM_CC: &[&str] = &[
    "cpp/common.cc",
    "cpp/logger.cc",
    "cpp/host_memory.cc",
    "cpp/builder.cc",
    "cpp/parser.cc",
    "cpp/runtime.cc",
];
const SHIM_H: &[&str] = &[
    "cpp/common.h",
    "cpp/enum_detect.h",
    "cpp/logger.h",
    "cpp/host_memory.h",
    "cpp/builder.h",
    "cpp/parser.h",
    "cpp/runtime.h",
];
/// Every cxx bridge, one per area as in `cpp/` (each generates `trt-sys/src/shim/<area>.rs.h`, which that area's
/// `.cc` includes).
const SHIM_BRIDGES: &[&str] = &[
    "src/shim/common.rs",
    "src/shim/logger.rs",
    "src/shim/host_memory.rs",
    "src/shim/builder.rs",
    "src/shim/parser.rs",
    "src/shim/runtime.rs",
];
/// Every environment variable read here.
const ENV_VARS: &[&str] = &[
    "TENSORRT_INCLUDE_DIR",
    "TENSORRT_ROOT",
    "CUDA_INCLUDE_DIR",
    "CUDA_ROOT",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for f in SHIM_CC.iter().chain(SHIM_H).chain(SHIM_BRIDGES) {
        println!("cargo:rerun-if-changed={f}");
    }
    for var in ENV_VARS {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(trt_shim)");
    println!("cargo::rustc-check-cfg=cfg(trt_shim_rtx)");
    generate_shim_enums();

    let require = env::var_os("CARGO_FEATURE_REQUIRE_TENSORRT").is_some()
        || env::var_os("CARGO_FEATURE_REQUIRE_TENSORRT_RTX").is_some();
    let trt = find_dir(&tensorrt_candidates(), is_tensorrt_include);
    let cuda = find_dir(&cuda_candidates(), is_cuda_include);

    #[cfg(feature = "regenerate-cuda-bindings")]
    regenerate_cuda_bindings(cuda.as_deref());

    let (trt_dir, cuda_dir) = match (trt, cuda) {
        (Some(t), Some(c)) => (t, c),
        (t, c) => {
            let mut missing = Vec::new();
            if t.is_none() {
                missing.push(format!(
                    "TensorRT headers (NvInfer.h, NvInferVersion.h and NvOnnxParser.h) not found; tried: {}. \
                     Set TENSORRT_INCLUDE_DIR=<dir with NvInfer.h> (or TENSORRT_ROOT=<dir with include/>)",
                    join(&tensorrt_candidates())
                ));
            }
            if c.is_none() {
                missing.push(format!(
                    "CUDA headers (cuda_runtime_api.h) not found; tried: {}. \
                     Set CUDA_INCLUDE_DIR=<dir with cuda_runtime_api.h> (or CUDA_ROOT=<dir with include/>)",
                    join(&cuda_candidates())
                ));
            }
            if require {
                eprintln!("error: trt-sys feature `require-tensorrt` is enabled but the TensorRT shim cannot be built:");
                for m in &missing {
                    eprintln!("  - {m}");
                }
                std::process::exit(1);
            }
            // Building without TensorRT is a supported configuration (CI, docs): no warning; the run-time error
            // (Error::TensorRtNotCompiled) names the variables to set.
            return;
        }
    };

    let version = match parse_version(&trt_dir.join("NvInferVersion.h")) {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "error: trt-sys: cannot read the TensorRT version from {}: {e}",
                trt_dir.join("NvInferVersion.h").display()
            );
            std::process::exit(1);
        }
    };
    let version_str = format!(
        "{}.{}.{}.{}",
        version[0], version[1], version[2], version[3]
    );
    // TensorRT for RTX defines TRT_MAJOR_RTX (and reuses NV_TENSORRT_MAJOR for its own 1.x numbers).
    let rtx = is_rtx(&trt_dir.join("NvInferVersion.h"));
    let require_rtx = env::var_os("CARGO_FEATURE_REQUIRE_TENSORRT_RTX").is_some();
    if require_rtx && !rtx {
        eprintln!(
            "error: trt-sys feature `require-tensorrt-rtx` is enabled but the headers in {} are TensorRT {version_str}, \
             not TensorRT for RTX; set TENSORRT_INCLUDE_DIR to the TensorRT-RTX headers",
            trt_dir.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rustc-env=TRT_SYS_TENSORRT_VERSION={version_str}");
    println!(
        "cargo:rustc-env=TRT_SYS_TENSORRT_PRODUCT={}",
        if rtx { "rtx" } else { "tensorrt" }
    );
    if rtx {
        println!("cargo:rustc-cfg=trt_shim_rtx");
    }
    println!(
        "cargo:tensorrt_product={}",
        if rtx { "rtx" } else { "tensorrt" }
    );
    println!(
        "cargo:rustc-env=TRT_SYS_TENSORRT_INCLUDE_DIR={}",
        trt_dir.display()
    );
    println!(
        "cargo:rustc-env=TRT_SYS_CUDA_INCLUDE_DIR={}",
        cuda_dir.display()
    );
    // Metadata for dependents (links = "trt_sys_shim"): DEP_TRT_SYS_SHIM_TENSORRT_VERSION.
    println!("cargo:tensorrt_version={version_str}");
    println!("cargo:rustc-cfg=trt_shim");
    for header in [
        "NvInfer.h",
        "NvInferVersion.h",
        "NvInferRuntime.h",
        "NvOnnxParser.h",
    ] {
        println!("cargo:rerun-if-changed={}", trt_dir.join(header).display());
    }

    // The area bridges are `#[cfg(trt_shim)] #[cxx::bridge] mod ffi` next to Rust code that exists in every build.
    // cxx-build evaluates a bridge's cfg from the CARGO_CFG_* variables, which do not carry a cfg this script sets:
    // say it is on (it is, from here on) so that cxx-build generates the C++ side of those bridges.
    env::set_var("CARGO_CFG_TRT_SHIM", "");
    let mut build = cxx_build::bridges(SHIM_BRIDGES);
    build.files(SHIM_CC).std("c++17");
    // NVIDIA headers as system headers: their own warnings are not ours to fix.
    build.flag(format!("-isystem{}", trt_dir.display()));
    build.flag(format!("-isystem{}", cuda_dir.display()));
    // The shim calls APIs deprecated in newer releases on purpose (one source for 8.5 .. 11.x).
    build.flag_if_supported("-Wno-deprecated-declarations");
    build.flag_if_supported("-Wno-unused-parameter");
    build.compile("trt_sys_shim");
}

/// The bridge file that declares the shim enums, and the file generated from it.
const ENUM_BRIDGE: &str = "src/shim/common.rs";
const ENUM_OUT: &str = "shim_enums.rs";

/// Writes `$OUT_DIR/shim_enums.rs`: one `shim_enum! { pub enum X { ... } }` per enum of the cxx bridge in
/// `src/shim/common.rs`, with its docs, so that the public Rust enums come from the enums' one declaration (see that
/// file). Runs in every build: the public enums exist without TensorRT headers too. The bridge's enums are written
/// as `enum Name {`, one `Variant,` per line with `///` docs, and `}`; anything else inside one is an error here
/// rather than a silently different enum.
fn generate_shim_enums() {
    let src = fs::read_to_string(ENUM_BRIDGE)
        .unwrap_or_else(|e| panic!("trt-sys: cannot read {ENUM_BRIDGE}: {e}"));
    let mut out = String::from(
        "// Generated by trt-sys/build.rs from the cxx bridge in src/shim/common.rs.\n",
    );
    let mut docs: Vec<&str> = Vec::new();
    let mut current: Option<&str> = None;
    let mut count = 0;
    for (n, line) in src.lines().enumerate() {
        let l = line.trim();
        if let Some(name) = current {
            if l == "}" {
                out.push_str("    }\n}\n");
                current = None;
            } else if l.starts_with("///")
                || (l.ends_with(',')
                    && l[..l.len() - 1]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                // A variant's doc line, or the variant.
                out.push_str(&format!("        {l}\n"));
            } else {
                panic!(
                    "trt-sys: {ENUM_BRIDGE}:{}: unexpected line in enum {name}: {l}",
                    n + 1
                );
            }
        } else if let Some(name) = l.strip_prefix("enum ").and_then(|r| r.strip_suffix(" {")) {
            out.push_str("shim_enum! {\n");
            for d in docs.drain(..) {
                out.push_str(&format!("    {d}\n"));
            }
            out.push_str(&format!("    pub enum {name} {{\n"));
            current = Some(name);
            count += 1;
        } else if l.starts_with("///") {
            docs.push(l);
        } else if !l.starts_with("#[") {
            docs.clear();
        }
    }
    assert!(
        current.is_none() && count > 0,
        "trt-sys: no complete enum found in {ENUM_BRIDGE}"
    );
    let path = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join(ENUM_OUT);
    fs::write(&path, out)
        .unwrap_or_else(|e| panic!("trt-sys: cannot write {}: {e}", path.display()));
}

#[cfg(feature = "regenerate-cuda-bindings")]
mod cuda_bindgen {
    include!("build/cuda_bindgen.rs");
}

/// Feature `regenerate-cuda-bindings`: runs the generator shared with `scripts/gen-cuda-bindings.sh` on the probed
/// CUDA headers and writes `$OUT_DIR/cuda_bindings.rs` (which `src/cuda/mod.rs` then includes).
#[cfg(feature = "regenerate-cuda-bindings")]
fn regenerate_cuda_bindings(cuda: Option<&Path>) {
    println!("cargo:rerun-if-changed=build/cuda_bindgen.rs");
    let Some(dir) = cuda else {
        eprintln!(
            "error: feature `regenerate-cuda-bindings` needs CUDA headers (cuda_runtime_api.h); tried: {}. \
             Set CUDA_INCLUDE_DIR (or CUDA_ROOT)",
            join(&cuda_candidates())
        );
        std::process::exit(1);
    };
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("cuda_bindings.rs");
    match cuda_bindgen::generate_cuda_bindings(dir)
        .and_then(|code| fs::write(&out, code).map_err(|e| e.to_string()))
    {
        Ok(()) => {}
        Err(e) => {
            eprintln!(
                "error: regenerating the CUDA bindings from {} failed: {e}",
                dir.display()
            );
            std::process::exit(1);
        }
    }
}

fn join(v: &[PathBuf]) -> String {
    v.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn env_path(var: &str) -> Option<PathBuf> {
    env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The ordered TensorRT include directories to try.
fn tensorrt_candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    v.extend(env_path("TENSORRT_INCLUDE_DIR"));
    v.extend(env_path("TENSORRT_ROOT").map(|r| r.join("include")));
    for d in [
        "/usr/include/x86_64-linux-gnu",
        "/usr/include/aarch64-linux-gnu",
        "/usr/local/tensorrt/include",
        "/usr/include",
    ] {
        v.push(PathBuf::from(d));
    }
    v
}

/// The ordered CUDA include directories to try (JetPack installs under /usr/local/cuda-<ver>/targets/aarch64-linux).
fn cuda_candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    v.extend(env_path("CUDA_INCLUDE_DIR"));
    v.extend(env_path("CUDA_ROOT").map(|r| r.join("include")));
    v.push(PathBuf::from("/usr/local/cuda/include"));
    v.extend(
        subdirs("/usr/local/cuda/targets")
            .into_iter()
            .map(|t| t.join("include")),
    );
    // JetPack: versioned CUDA installs and their aarch64 target directories.
    for cuda in subdirs("/usr/local").into_iter().filter(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("cuda-"))
    }) {
        v.push(cuda.join("include"));
        v.push(cuda.join("targets/aarch64-linux/include"));
    }
    v.push(PathBuf::from("/usr/include"));
    v
}

fn subdirs(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn find_dir(candidates: &[PathBuf], ok: fn(&Path) -> bool) -> Option<PathBuf> {
    candidates.iter().find(|d| ok(d)).cloned()
}

fn is_tensorrt_include(d: &Path) -> bool {
    ["NvInfer.h", "NvInferVersion.h", "NvOnnxParser.h"]
        .iter()
        .all(|h| d.join(h).is_file())
}

fn is_cuda_include(d: &Path) -> bool {
    d.join("cuda_runtime_api.h").is_file()
}

/// Whether a NvInferVersion.h belongs to TensorRT for RTX (`#define TRT_MAJOR_RTX`).
fn is_rtx(header: &Path) -> bool {
    fs::read_to_string(header).is_ok_and(|text| {
        text.lines().any(|l| {
            l.trim()
                .strip_prefix("#define")
                .and_then(|rest| rest.split_whitespace().next())
                == Some("TRT_MAJOR_RTX")
        })
    })
}

/// Reads NV_TENSORRT_{MAJOR,MINOR,PATCH,BUILD}, following one level of `#define A B` indirection
/// (10.16+ defines them through TRT_*_ENTERPRISE).
fn parse_version(header: &Path) -> Result<[u32; 4], String> {
    let text = fs::read_to_string(header).map_err(|e| e.to_string())?;
    let defines: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.trim().strip_prefix("#define")?.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect();
    let lookup = |name: &str| -> Result<u32, String> {
        let mut key = name.to_string();
        for _ in 0..4 {
            let (_, val) = defines
                .iter()
                .find(|(k, _)| *k == key)
                .ok_or_else(|| format!("{name} is not defined"))?;
            match val.parse::<u32>() {
                Ok(n) => return Ok(n),
                Err(_) => key = val.clone(),
            }
        }
        Err(format!("{name} does not resolve to a number"))
    };
    Ok([
        lookup("NV_TENSORRT_MAJOR")?,
        lookup("NV_TENSORRT_MINOR")?,
        lookup("NV_TENSORRT_PATCH")?,
        lookup("NV_TENSORRT_BUILD").unwrap_or(0),
    ])
}
