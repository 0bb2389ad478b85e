//! The CPU executor the tools run the ONNX checks and calibration on: `YOLO_ONNX_EXECUTOR` (tract, onnxruntime, auto)
//! and `ORT_DYLIB_PATH`. The `ortlib_` test needs PyPI's libonnxruntime (scripts/test.sh passes TRT_TEST_ORT_DYLIB).

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{assert_fails, assert_ok, calib_images, json, sample, stderr, stdout};

/// `trt-onnx ARGS` with the executor chosen by `executor` and onnxruntime looked up at `ort` (a path; "" leaves
/// ORT_DYLIB_PATH unset).
fn onnx(dir: &Path, executor: Option<&str>, ort: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trt-onnx"));
    c.current_dir(dir)
        .args(args)
        .env_remove("YOLO_ONNX_EXECUTOR");
    if let Some(e) = executor {
        c.env("YOLO_ONNX_EXECUTOR", e);
    }
    if ort.is_empty() {
        c.env_remove("ORT_DYLIB_PATH");
    } else {
        c.env("ORT_DYLIB_PATH", ort);
    }
    c.output().expect("run trt-onnx")
}

#[test]
fn the_executor_is_reported_and_a_bad_choice_or_missing_library_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, "yolov7-tiny", "m.onnx");
    let missing = d.join("nowhere").join("libonnxruntime.so.1.32.0");
    let missing = missing.to_str().unwrap();
    let verify = ["verify", "m.onnx", "m.onnx", "--json"];
    // tract when asked, and when onnxruntime is not there (auto).
    for executor in [Some("tract"), Some("auto"), None] {
        let o = onnx(d, executor, missing, &verify);
        assert_ok(&o);
        assert_eq!(json(&o)["executor"], "tract", "{executor:?}");
    }
    let o = onnx(d, Some("cuda"), "", &verify);
    assert_fails(&o, "trt-onnx", 1, "YOLO_ONNX_EXECUTOR=cuda");
    assert!(
        stderr(&o).contains("tract, onnxruntime or auto"),
        "{}",
        stderr(&o)
    );
    // onnxruntime asked for and not found: the message names the path tried and the fix, for every command.
    for args in [
        &verify[..],
        &["fuse", "m.onnx", "-o", "f.onnx"],
        &["fp16", "m.onnx", "-o", "h.onnx"],
    ] {
        let o = onnx(d, Some("onnxruntime"), missing, args);
        assert_fails(&o, "trt-onnx", 1, missing);
        assert!(
            stderr(&o).contains("pip install onnxruntime"),
            "{}",
            stderr(&o)
        );
        assert!(!d.join("f.onnx").exists() && !d.join("h.onnx").exists());
    }
}

#[test]
#[ignore = "needs libonnxruntime (scripts/onnxruntime.sh)"]
fn ortlib_the_tools_run_their_checks_and_calibration_on_onnxruntime_when_it_is_there() {
    let ort = std::env::var("TRT_TEST_ORT_DYLIB")
        .or_else(|_| std::env::var("ORT_DYLIB_PATH"))
        .expect("TRT_TEST_ORT_DYLIB or ORT_DYLIB_PATH (scripts/onnxruntime.sh)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, "yolov7-tiny", "m.onnx");
    for executor in [None, Some("onnxruntime")] {
        let o = onnx(d, executor, &ort, &["verify", "m.onnx", "m.onnx", "--json"]);
        assert_ok(&o);
        let v = json(&o);
        assert_eq!(v["executor"], "onnxruntime", "{executor:?}");
        assert_eq!(v["passed"], true);
    }
    // fuse's check and the FP16 pass (probe + emulated check) pass on onnxruntime; the fused model agrees with the
    // original on tract too (an independent executor).
    let o = onnx(d, None, &ort, &["fuse", "m.onnx", "-o", "f.onnx"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("PASS"), "{}", stdout(&o));
    let o = onnx(
        d,
        Some("tract"),
        "",
        &["verify", "m.onnx", "f.onnx", "--json"],
    );
    assert_ok(&o);
    assert_eq!(json(&o)["passed"], true);
    assert_ok(&onnx(d, None, &ort, &["fp16", "f.onnx", "-o", "h.onnx"]));
    // Calibration says where it ran, and its cache covers the same tensors as tract's.
    let calib = calib_images(d, 6, 2);
    let calib = calib.to_str().unwrap();
    let mut caches = Vec::new();
    for (executor, lib) in [("onnxruntime", ort.as_str()), ("tract", "")] {
        let cache = format!("{executor}.cache");
        let o = onnx(
            d,
            Some(executor),
            lib,
            &[
                "quantize",
                "f.onnx",
                "--calib",
                calib,
                "-o",
                &format!("{executor}.onnx"),
                "--cache",
                &cache,
            ],
        );
        assert_ok(&o);
        assert!(
            stdout(&o).contains(&format!("samples/s on {executor})")),
            "{}",
            stdout(&o)
        );
        let text = std::fs::read_to_string(d.join(&cache)).unwrap();
        let mut names: Vec<String> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(':').next())
            .map(str::to_string)
            .collect();
        names.sort();
        caches.push(names);
    }
    assert!(caches[0].len() > 50, "{}", caches[0].len());
    assert_eq!(caches[0], caches[1]);
}
