//! Deployment files: Triton `config.pbtxt` (golden files for a static and a dynamic-batch engine, each parsed with
//! Triton's own ModelConfig schema) and the DeepStream nvinfer config, from sidecars as trt-build writes them.

use std::path::{Path, PathBuf};
use std::process::Command;

use trt::sidecar::{
    HardwareCompatibility, IoTensorInfo, Precision, ProfileInfo, ProfileShapes, Sidecar,
    TensorMode, TensorRtInfo,
};
use trt::{DataType, Version};
use trt_tools::deploy::{deepstream, triton};

mod common;

fn io(name: &str, mode: TensorMode, dtype: DataType, shape: &[i64]) -> IoTensorInfo {
    IoTensorInfo {
        name: name.into(),
        mode,
        dtype,
        shape: shape.to_vec(),
        format: "linear".into(),
    }
}

fn sidecar(precision: Precision) -> Sidecar {
    Sidecar::new(
        TensorRtInfo {
            version: Version::new(10, 3, 0),
            version_compatible: false,
            hardware_compatibility: HardwareCompatibility::None,
            exclude_lean_runtime: false,
            compute_capabilities: Vec::new(),
        },
        None,
        precision,
    )
}

/// A YOLOv9 engine with a static batch of 1, FP16, with class names.
fn static_engine() -> Sidecar {
    let mut s = sidecar(Precision::Fp16);
    s.io = vec![
        io(
            "images",
            TensorMode::Input,
            DataType::F32,
            &[1, 3, 640, 640],
        ),
        io("output0", TensorMode::Output, DataType::F32, &[1, 84, 8400]),
    ];
    s.class_names = (0..80).map(|i| format!("class {i}")).collect();
    s
}

/// A YOLOv7 engine with a dynamic batch 1..8 (opt 4), FP16 IO.
fn dynamic_engine() -> Sidecar {
    let mut s = sidecar(Precision::Fp16);
    s.io = vec![
        io(
            "images",
            TensorMode::Input,
            DataType::F16,
            &[-1, 3, 640, 640],
        ),
        io(
            "output",
            TensorMode::Output,
            DataType::F16,
            &[-1, 25200, 85],
        ),
    ];
    s.profiles = vec![ProfileInfo {
        inputs: vec![ProfileShapes {
            name: "images".into(),
            min: vec![1, 3, 640, 640],
            opt: vec![4, 3, 640, 640],
            max: vec![8, 3, 640, 640],
        }],
    }];
    s
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/triton")
        .join(name)
}

fn options(name: &str) -> triton::TritonOptions {
    triton::TritonOptions {
        name: name.into(),
        version: 1,
        cuda_graphs: false,
    }
}

#[test]
fn triton_configs_match_the_golden_files_and_parse_with_tritons_schema() {
    let cases = [
        ("static.pbtxt", static_engine(), options("yolov9")),
        (
            "dynamic.pbtxt",
            dynamic_engine(),
            triton::TritonOptions {
                cuda_graphs: true,
                ..options("yolov7")
            },
        ),
    ];
    for (file, sc, opts) in &cases {
        let text = triton::config_pbtxt(sc, opts).unwrap();
        if std::env::var_os("TRT_BLESS").is_some() {
            // TRT_BLESS=1 rewrites the golden files after a deliberate change (review the diff).
            std::fs::write(golden(file), &text).unwrap();
        }
        let want = std::fs::read_to_string(golden(file)).unwrap();
        assert_eq!(text, want, "{file} differs from the golden file");
    }
    let parsed = common::triton_schema_check(&[&golden("static.pbtxt"), &golden("dynamic.pbtxt")]);
    if let Some(p) = parsed {
        // Static batch: max_batch_size 0 and full dims; the labels on the detection output.
        assert_eq!(p[0]["platform"], "tensorrt_plan");
        assert!(
            p[0].get("max_batch_size").is_none(),
            "0 is the default: {}",
            p[0]
        );
        assert_eq!(
            p[0]["input"][0]["dims"],
            serde_json::json!(["1", "3", "640", "640"])
        );
        assert_eq!(p[0]["output"][0]["label_filename"], "labels.txt");
        assert_eq!(p[0]["instance_group"][0]["kind"], "KIND_GPU");
        // Dynamic batch: max_batch_size from profile 0, dims without the batch, dynamic batching, CUDA graphs.
        assert_eq!(p[1]["max_batch_size"], 8);
        assert_eq!(p[1]["input"][0]["data_type"], "TYPE_FP16");
        assert_eq!(
            p[1]["output"][0]["dims"],
            serde_json::json!(["25200", "85"])
        );
        assert!(p[1].get("dynamic_batching").is_some());
        assert_eq!(p[1]["optimization"]["cuda"]["graphs"], true);
    }
}

#[test]
fn triton_refuses_what_it_cannot_express() {
    // A batch that cannot be 1.
    let mut sc = dynamic_engine();
    sc.profiles[0].inputs[0].min[0] = 2;
    let e = triton::config_pbtxt(&sc, &options("m"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--min-shapes images:1x"), "{e}");
    // FP8 IO.
    let mut sc = static_engine();
    sc.io[1].dtype = DataType::Fp8;
    let e = format!(
        "{:#}",
        triton::config_pbtxt(&sc, &options("m")).unwrap_err()
    );
    assert!(e.contains("output `output0`") && e.contains("Fp8"), "{e}");
    for bad in ["", "a/b", "..", "has space"] {
        assert!(triton::check_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_repository_holds_the_plan_byte_for_byte_with_its_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("m.engine");
    let plan_bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut sc = static_engine();
    trt::sidecar::write_engine(&engine, &plan_bytes, &mut sc).unwrap();
    let repo = dir.path().join("repo");
    let opts = trt_tools::deploy::DeployOptions {
        triton: Some((
            repo.clone(),
            triton::TritonOptions {
                version: 3,
                ..options("yolov9")
            },
        )),
        deepstream: None,
    };
    let out = trt_tools::deploy::write(&opts, &engine).unwrap();
    let t = out.triton.unwrap();
    let plan = repo.join("yolov9/3/model.plan");
    assert_eq!(t.plan, plan);
    assert_eq!(std::fs::read(&plan).unwrap(), plan_bytes);
    // The sidecar beside the plan verifies it.
    let side = trt::sidecar::read_sidecar(&plan).unwrap();
    side.check_engine_bytes(&plan, &plan_bytes).unwrap();
    let labels = std::fs::read_to_string(repo.join("yolov9/labels.txt")).unwrap();
    assert_eq!(labels.lines().count(), 80);
    assert_eq!(labels.lines().nth(2), Some("class 2"));
    let config = std::fs::read_to_string(repo.join("yolov9/config.pbtxt")).unwrap();
    assert_eq!(
        config,
        triton::config_pbtxt(&sc, &options("yolov9")).unwrap()
    );
    // trt-inspect prints the same config for the engine.
    let o = Command::new(env!("CARGO_BIN_EXE_trt-inspect"))
        .arg(&engine)
        .args(["--triton", "yolov9"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    assert_eq!(common::stdout(&o), config);
    // A corrupted engine is not deployed.
    std::fs::write(&engine, b"not the engine").unwrap();
    let e = format!(
        "{:#}",
        trt_tools::deploy::write(&opts, &engine).unwrap_err()
    );
    assert!(e.contains("m.engine"), "{e}");
}

#[test]
fn deepstream_configs_state_the_engine_precision_classes_and_parser() {
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("m.engine");
    let lib = dir.path().join("libnvds_yolo_parser.so");
    std::fs::write(&lib, b"stand-in").unwrap();
    let mut sc = static_engine();
    trt::sidecar::write_engine(&engine, b"plan", &mut sc).unwrap();
    let ds = dir.path().join("ds");
    let files = deepstream::write(&ds, &engine, &sc, &lib).unwrap();
    let text = std::fs::read_to_string(&files.config).unwrap();
    let engine_abs = std::fs::canonicalize(&engine).unwrap();
    for line in [
        format!("model-engine-file={}", engine_abs.display()),
        "network-mode=2".to_string(),
        "num-detected-classes=80".to_string(),
        "net-scale-factor=0.0039215697906911373".to_string(),
        "model-color-format=0".to_string(),
        "maintain-aspect-ratio=1".to_string(),
        "symmetric-padding=1".to_string(),
        "cluster-mode=2".to_string(),
        "parse-bbox-func-name=NvDsInferParseCustomYolo".to_string(),
        format!("custom-lib-path={}", lib.display()),
        "infer-dims=3;640;640".to_string(),
        "batch-size=1".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "`{line}` missing:\n{text}");
    }
    assert_eq!(
        std::fs::read_to_string(&files.labels)
            .unwrap()
            .lines()
            .count(),
        80
    );
    // INT8 and FP32 engines, a dynamic batch: mode and batch follow.
    let mut d = dynamic_engine();
    d.precision = Precision::Int8;
    d.class_names = (0..80).map(|i| format!("c{i}")).collect();
    let text = deepstream::config_txt(&engine_abs, &d, Path::new("/l.txt"), &lib).unwrap();
    assert!(
        text.contains("network-mode=1\n") && text.contains("batch-size=8\n"),
        "{text}"
    );
    // Class names that disagree with the output, and a layout the parser cannot decode, are refused.
    let mut bad = static_engine();
    bad.class_names.truncate(3);
    let e = deepstream::config_txt(&engine_abs, &bad, Path::new("/l.txt"), &lib).unwrap_err();
    assert!(e.to_string().contains("3 class names"), "{e}");
    let mut raw = static_engine();
    raw.io[1] = io("p3", TensorMode::Output, DataType::F32, &[1, 3, 80, 80, 85]);
    raw.class_names.clear();
    let e = deepstream::config_txt(&engine_abs, &raw, Path::new("/l.txt"), &lib).unwrap_err();
    assert!(e.to_string().contains("--grid"), "{e}");
}

#[test]
fn trt_build_checks_the_deployment_options_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "conv-bn", "m.onnx");
    common::sample(dir.path(), "yolov9", "v9.onnx");
    std::fs::write(dir.path().join("libnvds_yolo_parser.so"), b"stand-in").unwrap();
    let run = |args: &[&str]| {
        common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-build"), dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let dry = ["--dry-run", "--trt-release", "10.3"];
    // Usage errors: a version 0, a Triton name without a repository.
    for args in [
        &["v9.onnx", "--triton-repo", "r", "--triton-version", "0"][..],
        &["v9.onnx", "--triton-name", "x"][..],
        &["v9.onnx", "--deepstream-lib", "libnvds_yolo_parser.so"][..],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", common::stderr(&o));
    }
    let with = |extra: &[&str]| {
        let mut a = vec!["v9.onnx"];
        a.extend_from_slice(&dry);
        a.extend_from_slice(extra);
        run(&a)
    };
    common::assert_fails(
        &with(&["--triton-repo", "r", "--triton-name", "a/b"]),
        "trt-build",
        1,
        "--triton-name `a/b`",
    );
    common::assert_fails(
        &with(&["--deepstream", "ds", "--deepstream-lib", "nope.so"]),
        "trt-build",
        1,
        "--deepstream-lib nope.so: no such file",
    );
    // Outputs the parser cannot decode fail the dry run, as they would fail the build.
    let o = run(&[
        "m.onnx",
        "--dry-run",
        "--trt-release",
        "10.3",
        "--deepstream",
        "ds",
        "--deepstream-lib",
        "libnvds_yolo_parser.so",
    ]);
    common::assert_fails(
        &o,
        "trt-build",
        1,
        "no layout the DeepStream parser decodes",
    );
    // A decodable model plans fine; nothing is written by a dry run.
    common::assert_ok(&with(&[
        "--deepstream",
        "ds",
        "--deepstream-lib",
        "libnvds_yolo_parser.so",
        "--triton-repo",
        "r",
    ]));
    assert!(!dir.path().join("ds").exists() && !dir.path().join("r").exists());
}
