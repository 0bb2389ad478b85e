//! `trt-onnx fuse` and `verify` on the models real exports are: dynamic shapes (verified at chosen or given shapes),
//! ops the CPU executor lacks (written unverified with the reason, or refused with `--verify`), and tolerances (NaN,
//! infinite or negative values are usage errors; the report says how much of the scale-aware tolerance is used).

use std::path::PathBuf;

mod common;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-onnx"))
}

/// `trt-onnx ARGS` in `dir` with no NVIDIA libraries in reach.
fn onnx(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::no_trt_cmd(bin(), dir).args(args).output().unwrap()
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
    let o = onnx(dir.path(), &["verify", "m.onnx", "f.onnx"]);
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
    let o = onnx(
        dir.path(),
        &[
            "fuse",
            "dyn.onnx",
            "-o",
            "f.onnx",
            "--shapes",
            "images:1x3x128x128",
        ],
    );
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("verification"),
        "{}",
        common::stdout(&o)
    );
    assert!(dir.path().join("f.onnx").is_file());
    // Nothing given: batch 1 and 640x640 are chosen and said; this sample's fixed head cannot run at 640, so the
    // check cannot run: the fused model is written, with the reason.
    let o = onnx(dir.path(), &["fuse", "dyn.onnx", "-o", "g.onnx"]);
    common::assert_ok(&o);
    let err = common::stderr(&o);
    assert!(err.contains("images:1x3x640x640"), "{err}");
    assert!(
        err.contains("warning") && err.contains("not verified"),
        "{err}"
    );
    assert!(dir.path().join("g.onnx").is_file());
    // --verify makes an unverifiable model an error, and nothing is written.
    let o = onnx(
        dir.path(),
        &["fuse", "dyn.onnx", "-o", "h.onnx", "--verify"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("--verify was given"),
        "{}",
        common::stderr(&o)
    );
    assert!(!dir.path().join("h.onnx").exists());
    // A name that is not an input is a clear error.
    let o = onnx(
        dir.path(),
        &[
            "fuse",
            "dyn.onnx",
            "-o",
            "i.onnx",
            "--shapes",
            "image:1x3x128x128",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::stderr(&o).contains("not an input"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn fp16_verify_and_shapes_share_the_shape_rules() {
    let dir = tempfile::tempdir().unwrap();
    dynamic_model(dir.path());
    let run = |args: &[&str]| {
        common::no_trt_cmd(bin(), dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    // verify and fp16 run a dynamic export at the given shape.
    let o = run(&[
        "verify",
        "dyn.onnx",
        "dyn.onnx",
        "--shapes",
        "images:1x3x128x128",
    ]);
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("PASS"),
        "{}",
        common::stdout(&o)
    );
    let o = run(&[
        "fp16",
        "dyn.onnx",
        "-o",
        "h.onnx",
        "--shapes",
        "images:1x3x128x128",
    ]);
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("difference to FP32"),
        "the FP16 model was checked: {}",
        common::stdout(&o)
    );
    // Nothing given: the chosen shape is said.
    let o = run(&["verify", "dyn.onnx", "dyn.onnx"]);
    let err = common::stderr(&o);
    assert!(err.contains("images:1x3x640x640"), "{err}");
    // A shape that breaks a fixed dimension of the model is refused, naming both.
    let o = run(&[
        "verify",
        "dyn.onnx",
        "dyn.onnx",
        "--shapes",
        "images:1x4x128x128",
    ]);
    common::assert_fails(&o, "trt-onnx", 1, "?x3x?x?");
    let o = run(&[
        "fp16",
        "dyn.onnx",
        "-o",
        "x.onnx",
        "--shapes",
        "images:1x3x128",
    ]);
    common::assert_fails(&o, "trt-onnx", 1, "declares");
    assert!(!dir.path().join("x.onnx").exists());
}

#[test]
fn dual_head_exports_keep_the_main_head() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9-dual", "dual.onnx");
    let o = onnx(dir.path(), &["fuse", "dual.onnx", "-o", "f.onnx", "--json"]);
    common::assert_ok(&o);
    let r = common::json(&o);
    assert_eq!(r["aux_head"]["kept"], "output0");
    assert_eq!(r["aux_head"]["dropped_outputs"][0], "aux");
    assert!(r["aux_head"]["nodes_removed"].as_u64().unwrap() > 40, "{r}");
    assert_eq!(r["verification"]["passed"], true, "{r}");
    let f = yolo_onnx::Model::load(dir.path().join("f.onnx")).unwrap();
    let outs: Vec<&str> = f
        .graph()
        .outputs()
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(outs, ["output0"]);
    assert!(!f
        .graph()
        .nodes()
        .iter()
        .any(|n| n.op_type == "BatchNormalization"));
    // Said in text; --keep-aux-head keeps both heads.
    let o = onnx(dir.path(), &["fuse", "dual.onnx", "-o", "g.onnx"]);
    common::assert_ok(&o);
    assert!(
        common::stdout(&o).contains("dropped the auxiliary training head 'aux'"),
        "{}",
        common::stdout(&o)
    );
    let o = onnx(
        dir.path(),
        &["fuse", "dual.onnx", "-o", "k.onnx", "--keep-aux-head"],
    );
    common::assert_ok(&o);
    let k = yolo_onnx::Model::load(dir.path().join("k.onnx")).unwrap();
    assert_eq!(k.graph().outputs().len(), 2);
    // trt-build drops it the same way.
    let o = common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-build"), dir.path())
        .args(["dual.onnx", "--dry-run", "--json", "--emit-onnx", "e.onnx"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = common::json(&o);
    let summary = r["pipeline"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("dropped the auxiliary training head 'aux'"),
        "{summary}"
    );
    assert!(r["pipeline"][0]["verification"]["passed"] == true, "{r}");
    let e = yolo_onnx::Model::load(dir.path().join("e.onnx")).unwrap();
    assert_eq!(e.graph().outputs().len(), 1);
}

#[test]
fn an_op_the_cpu_executor_lacks_is_fused_and_written_unverified() {
    let dir = tempfile::tempdir().unwrap();
    common::custom_op_model(dir.path(), "custom.onnx");
    let o = onnx(dir.path(), &["fuse", "custom.onnx", "-o", "f.onnx"]);
    common::assert_ok(&o);
    let err = common::stderr(&o);
    assert!(
        err.contains("not verified") && err.contains("mystery") && err.contains("YoloMysteryOp"),
        "the warning names the node and its op: {err}"
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

#[test]
fn a_training_mode_batchnorm_is_left_alone_and_the_rest_written_unverified() {
    let dir = tempfile::tempdir().unwrap();
    // Two Conv+BN blocks; the second BN is exported in training mode (three outputs): the passes must leave it, the
    // CPU executor cannot run it, and the first pair is still fused and written.
    let mut b = yolo_onnx::testgen::GraphBuilder::new("train_bn", 4);
    let x = b.input("images", &[1, 3, 16, 16]);
    let y = b.conv_bn_act(&x, 8, 3, 1, yolo_onnx::testgen::Act::Silu);
    let y = b.conv_bn_act(&y, 8, 3, 1, yolo_onnx::testgen::Act::Silu);
    b.output(&y);
    let mut m = b.finish();
    yolo_onnx::testgen::make_training_mode_bn(&mut m, 1, "train_bn");
    m.save(dir.path().join("t.onnx")).unwrap();
    let o = onnx(dir.path(), &["fuse", "t.onnx", "-o", "f.onnx"]);
    common::assert_ok(&o);
    let err = common::stderr(&o);
    assert!(
        err.contains("not verified") && err.contains("train_bn"),
        "{err}"
    );
    let f = yolo_onnx::Model::load(dir.path().join("f.onnx")).unwrap();
    let bns: Vec<&str> = f
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == "BatchNormalization")
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(bns, ["train_bn"]);
    let out = common::stdout(&o);
    assert!(
        out.contains("training-mode"),
        "the refusal is reported: {out}"
    );
    // --verify: an error, nothing written.
    let o = onnx(dir.path(), &["fuse", "t.onnx", "-o", "g.onnx", "--verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(!dir.path().join("g.onnx").exists());
}
