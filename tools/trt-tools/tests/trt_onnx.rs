//! Integration tests of the `trt-onnx` binary on generated models.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use yolo_onnx::testgen;

mod common;

use common::json;

fn bin() -> Command {
    Command::cargo_bin("trt-onnx").expect("trt-onnx binary")
}

fn write(dir: &Path, name: &str, model: &yolo_onnx::Model) -> PathBuf {
    let p = dir.join(name);
    model.save(&p).unwrap();
    p
}

/// One line on stderr, naming the file.
fn assert_one_line_naming(stderr: &[u8], file: &Path) {
    let s = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {s}");
    assert!(
        lines[0].contains(&file.display().to_string()),
        "message does not name {}: {s}",
        file.display()
    );
    assert!(!s.contains("panicked"), "{s}");
}

#[test]
fn fuse_json_report_and_verification() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "v9.onnx", &testgen::yolov9_slice(4, 1));
    let output = dir.path().join("v9-fused.onnx");
    let out = bin()
        .arg("fuse")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .arg("--json")
        .assert()
        .success();
    let v = json(out.get_output());
    let r = &v["report"];
    let bn = &r["patterns"]["conv-bn"];
    assert!(
        bn["found"].as_u64().unwrap() > 40 && bn["found"] == bn["fused"],
        "{bn}"
    );
    assert!(
        r["patterns"]["rep-conv"]["fused"].as_u64().unwrap() >= 5,
        "{}",
        r["patterns"]
    );
    assert!(r["after"]["nodes"].as_u64() < r["before"]["nodes"].as_u64());
    assert_eq!(r["after"]["op_histogram"].get("BatchNormalization"), None);
    assert_eq!(v["verification"]["passed"], Value::Bool(true));
    assert!(v["verification"]["worst"][0]["max_abs"].as_f64().unwrap() < 1e-2);
    // The written model loads and keeps the output name and shape.
    let fused = yolo_onnx::Model::load(&output).unwrap();
    assert_eq!(
        fused.graph().outputs(),
        testgen::yolov9_slice(4, 1).graph().outputs()
    );
}

#[test]
fn verify_passes_for_fused_and_fails_for_perturbed() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "rep.onnx",
        &testgen::repconv_model(16, 3, 1, true, 2),
    );
    let fused = dir.path().join("fused.onnx");
    bin()
        .arg("fuse")
        .arg(&input)
        .arg("-o")
        .arg(&fused)
        .arg("--no-verify")
        .assert()
        .success();
    let out = bin()
        .arg("verify")
        .arg(&input)
        .arg(&fused)
        .arg("--json")
        .assert()
        .success();
    assert_eq!(json(out.get_output())["passed"], Value::Bool(true));

    let mut m = yolo_onnx::Model::load(&fused).unwrap();
    yolo_onnx::testgen::perturb_first_conv_weight(&mut m, 0.05);
    let bad = write(dir.path(), "perturbed.onnx", &m);
    let out = bin().arg("verify").arg(&input).arg(&bad).assert().code(1);
    let o = out.get_output();
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));
    assert_one_line_naming(&o.stderr, &bad);
    // A loose tolerance accepts it.
    bin()
        .arg("verify")
        .arg(&input)
        .arg(&bad)
        .args(["--tol", "10"])
        .assert()
        .success();
}

#[test]
fn bad_inputs_exit_1_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = testgen::repconv_model(8, 1, 1, true, 3).to_bytes().unwrap();
    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let random = dir.path().join("random.onnx");
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let missing = dir.path().join("missing.onnx");
    let out_path = dir.path().join("out.onnx");
    for f in [&truncated, &random, &missing] {
        for args in [vec!["fuse"], vec!["inspect"], vec!["fp16"]] {
            let mut c = bin();
            c.args(&args).arg(f);
            if args[0] != "inspect" {
                c.arg("-o").arg(&out_path);
            }
            let out = c.assert().code(1);
            assert_one_line_naming(&out.get_output().stderr, f);
            assert!(!out_path.exists(), "output written on failure");
        }
        let out = bin().arg("verify").arg(f).arg(f).assert().code(1);
        assert_one_line_naming(&out.get_output().stderr, f);
    }
    // Usage errors exit 2.
    bin().arg("fuse").assert().code(2);
    bin().arg("frobnicate").assert().code(2);
}

#[test]
fn fp16_writes_mixed_model_and_reports_kept_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "v7.onnx", &testgen::yolov7_tiny_slice(4, 5));
    let output = dir.path().join("v7-fp16.onnx");
    let out = bin()
        .arg("fp16")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--keep-fp32", "Resize", "--json"])
        .assert()
        .success();
    let v = json(out.get_output());
    let kept = v["report"]["kept_fp32"].as_array().unwrap();
    assert!(kept.iter().any(|k| k["reason"]["kind"] == "decode-tail"));
    assert!(kept
        .iter()
        .any(|k| k["op_type"] == "Resize" && k["reason"]["kind"] == "user-pattern"));
    assert!(v["verification"]["worst"][0]["cosine"].as_f64().unwrap() > 0.999);
    let m = yolo_onnx::Model::load(&output).unwrap();
    assert!(
        m.graph().initializers().iter().any(|t| t.data_type == 10),
        "no FLOAT16 initializer"
    );
}

#[test]
fn bench_prints_cpu_ratio_and_sample_writes_models() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.onnx");
    bin()
        .arg("sample")
        .arg("-o")
        .arg(&a)
        .args(["--kind", "repconv"])
        .assert()
        .success();
    let b = dir.path().join("b.onnx");
    bin()
        .arg("fuse")
        .arg(&a)
        .arg("-o")
        .arg(&b)
        .assert()
        .success();
    let out = bin()
        .arg("bench")
        .arg(&a)
        .arg(&b)
        .args(["--iterations", "3", "--warmup", "1", "--json"])
        .assert()
        .success();
    let v = json(out.get_output());
    assert_eq!(v["device"], "cpu");
    assert!(v["speedup"].as_f64().unwrap() > 0.0);
    let out = bin()
        .arg("bench")
        .arg(&a)
        .arg(&b)
        .args(["--iterations", "2"])
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("CPU ratio"));
    // The tiny detector sample is a valid model.
    let d = dir.path().join("det.onnx");
    bin()
        .arg("sample")
        .arg("-o")
        .arg(&d)
        .args(["--kind", "tiny-detector"])
        .assert()
        .success();
    let out = bin()
        .arg("inspect")
        .arg(&d)
        .arg("--json")
        .assert()
        .success();
    let v = json(out.get_output());
    assert_eq!(v["outputs"][0]["dims"], serde_json::json!([1, 7, 84]));
    assert_eq!(v["schema"], "trt-onnx-inspect/1");
}
