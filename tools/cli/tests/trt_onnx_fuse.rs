//! `trt-onnx fuse` and `verify` on the models real exports are: dynamic shapes (verified at chosen or given shapes),
//! ops the CPU executor lacks (written unverified with the reason, or refused with `--verify`), and tolerances (NaN,
//! infinite or negative values are usage errors; the report says how much of the scale-aware tolerance is used).

use std::path::PathBuf;

mod common;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-onnx"))
}

#[test]
fn non_finite_or_negative_tolerances_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "m.onnx");
    let fused = dir.path().join("f.onnx");
    let o = common::no_trt_cmd(bin(), dir.path())
        .args(["fuse", "m.onnx", "-o"])
        .arg(&fused)
        .output()
        .unwrap();
    common::assert_ok(&o);
    for bad in ["nan", "NaN", "inf", "-1e-4", "abc"] {
        for (cmd, flag) in [("verify", "--tol"), ("verify", "--rtol"), ("fuse", "--tol")] {
            let mut c = common::no_trt_cmd(bin(), dir.path());
            c.arg(cmd).arg("m.onnx");
            if cmd == "verify" {
                c.arg("f.onnx");
            } else {
                c.args(["-o", "again.onnx"]);
            }
            let o = c.arg(format!("{flag}={bad}")).output().unwrap();
            let err = common::stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {flag}={bad}: {err}");
            assert!(err.contains(flag) && !err.contains("panicked"), "{err}");
        }
    }
    assert!(!dir.path().join("again.onnx").exists());
    // A good tolerance: PASS, with the share of the tolerance the fold's rounding uses.
    let o = common::no_trt_cmd(bin(), dir.path())
        .args(["verify", "m.onnx", "f.onnx"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let out = common::stdout(&o);
    assert!(
        out.contains("of tolerance") && out.contains("PASS"),
        "{out}"
    );
}

/// The yolov9 sample with its batch, height and width dynamic (as `export(dynamic=True)` writes them).
fn dynamic_model(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("dyn.onnx");
    common::make_dynamic(
        &common::sample(dir, "yolov9", "static.onnx"),
        &path,
        &[0, 2, 3],
    );
    path
}

#[test]
fn dynamic_exports_are_fused_and_verified_at_chosen_or_given_shapes() {
    let dir = tempfile::tempdir().unwrap();
    dynamic_model(dir.path());
    // The sample's head is built for 128x128: give that size; the batch is chosen (1).
    let o = common::no_trt_cmd(bin(), dir.path())
        .args([
            "fuse",
            "dyn.onnx",
            "-o",
            "f.onnx",
            "--shapes",
            "images:1x3x128x128",
        ])
        .output()
        .unwrap();
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("verification"),
        "{}",
        common::stdout(&o)
    );
    assert!(dir.path().join("f.onnx").is_file());
    // Nothing given: batch 1 and 640x640 are chosen and said; this sample's fixed head cannot run at 640, so the
    // check cannot run: the fused model is written, with the reason.
    let o = common::no_trt_cmd(bin(), dir.path())
        .args(["fuse", "dyn.onnx", "-o", "g.onnx"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let err = common::stderr(&o);
    assert!(err.contains("images:1x3x640x640"), "{err}");
    assert!(
        err.contains("warning") && err.contains("not verified"),
        "{err}"
    );
    assert!(dir.path().join("g.onnx").is_file());
    // --verify makes an unverifiable model an error, and nothing is written.
    let o = common::no_trt_cmd(bin(), dir.path())
        .args(["fuse", "dyn.onnx", "-o", "h.onnx", "--verify"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("--verify was given"),
        "{}",
        common::stderr(&o)
    );
    assert!(!dir.path().join("h.onnx").exists());
    // A name that is not an input is a clear error.
    let o = common::no_trt_cmd(bin(), dir.path())
        .args([
            "fuse",
            "dyn.onnx",
            "-o",
            "i.onnx",
            "--shapes",
            "image:1x3x128x128",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("not an input"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn an_op_the_cpu_executor_lacks_is_fused_and_written_unverified() {
    let dir = tempfile::tempdir().unwrap();
    common::custom_op_model(dir.path(), "custom.onnx");
    let o = common::no_trt_cmd(bin(), dir.path())
        .args(["fuse", "custom.onnx", "-o", "f.onnx"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    assert!(
        common::stderr(&o).contains("not verified"),
        "{}",
        common::stderr(&o)
    );
    let fused = yolo_onnx::Model::load(dir.path().join("f.onnx")).unwrap();
    let ops: Vec<&str> = fused
        .graph()
        .nodes()
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert!(
        !ops.contains(&"BatchNormalization") && ops.contains(&"YoloMysteryOp"),
        "{ops:?}"
    );
}
