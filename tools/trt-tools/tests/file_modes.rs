//! Every file the tools write honours the umask (0666 less the umask), whether it is written through an atomic
//! temporary file (quantized ONNX, calibration caches, `--emit-onnx`, deployment files) or directly.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

mod common;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs `exe args` under `umask`.
fn under_umask(dir: &Path, umask: &str, exe: &str, args: &[&str]) {
    let line = format!("umask {umask}; exec \"$0\" \"$@\"");
    let o = Command::new("sh")
        .current_dir(dir)
        .env("TRT_LIBRARY", dir.join("none/libnvinfer.so.10"))
        .env("CUDA_LIB_DIR", dir.join("none"))
        .env_remove("TRT_LIB_DIR")
        .arg("-c")
        .arg(line)
        .arg(exe)
        .args(args)
        .output()
        .unwrap();
    common::assert_ok(&o);
}

#[test]
fn outputs_are_created_with_the_umask_applied() {
    let onnx = env!("CARGO_BIN_EXE_trt-onnx");
    let build = env!("CARGO_BIN_EXE_trt-build");
    for (umask, want) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        common::calib_images(d, 2, 1);
        under_umask(
            d,
            umask,
            onnx,
            &["sample", "--kind", "yolov9", "-o", "m.onnx"],
        );
        under_umask(
            d,
            umask,
            onnx,
            &["fuse", "m.onnx", "-o", "f.onnx", "--no-verify"],
        );
        under_umask(
            d,
            umask,
            onnx,
            &[
                "quantize",
                "m.onnx",
                "--calib",
                "calib",
                "-o",
                "q.onnx",
                "--cache",
                "q.cache",
                "--no-verify",
            ],
        );
        under_umask(
            d,
            umask,
            build,
            &[
                "m.onnx",
                "--dry-run",
                "--no-verify",
                "--trt-release",
                "10.3",
                "--int8",
                "--calib",
                "calib",
                "--calib-cache",
                "b.cache",
                "--emit-onnx",
                "e.onnx",
            ],
        );
        for f in ["m.onnx", "f.onnx", "q.onnx", "q.cache", "b.cache", "e.onnx"] {
            assert_eq!(mode(&d.join(f)), want, "{f} under umask {umask}");
        }
    }
}
