//! `trt-onnx verify` / `fuse` tolerances: NaN, infinite or negative values are usage errors (a NaN tolerance made every
//! comparison pass), and the report says how much of the (scale-aware) tolerance the differences use.

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
