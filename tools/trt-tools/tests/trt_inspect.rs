//! `trt-inspect` end to end without TensorRT (and, for `reallib_` tests, with the real lean runtime and libcudart).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

use common::json;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-inspect"))
}

fn cmd(dir: &Path) -> Command {
    common::no_trt_cmd(bin(), dir)
}

#[test]
fn system_without_tensorrt_reports_why_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let o = cmd(dir.path()).args(["system", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let r = json(&o);
    assert_eq!(r["tensorrt"]["found"], false);
    assert!(
        r["tensorrt"]["error"]
            .as_str()
            .unwrap()
            .contains("TRT_LIBRARY"),
        "{}",
        r["tensorrt"]
    );
    assert_eq!(r["can_build"], false);
    assert_eq!(r["can_run"], false);
    assert!(!r["build_blockers"].as_array().unwrap().is_empty());
    // libcudart is searched for and every path tried is listed
    assert_eq!(r["cudart"]["found"], false);
    let tried = r["cudart"]["tried"].as_array().unwrap();
    assert!(
        tried
            .iter()
            .any(|p| p.as_str().unwrap().contains("no-cuda-here")),
        "{tried:?}"
    );
    // The headers this build compiled the shim against (none in the default build; CI also runs this suite with
    // the shim compiled against TensorRT 11.4 and TensorRT-RTX 1.7).
    let compiled = trt::compiled_version().map(|v| v.to_string());
    assert_eq!(
        r["compiled_tensorrt"],
        compiled.clone().map_or(Value::Null, Value::from),
        "{r}"
    );

    let o = cmd(dir.path()).arg("system").output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    let shown = compiled.unwrap_or_else(|| "not compiled".into());
    assert!(
        text.contains(&format!("TensorRT headers (compiled in): {shown}")),
        "{text}"
    );
    assert!(text.contains("Build engines here: no"), "{text}");
    assert!(text.contains("Run engines here:   no"), "{text}");
}

#[test]
fn onnx_model_io_opset_histogram_and_lint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rep.onnx");
    let model = yolo_onnx::testgen::sample("repconv", 5).unwrap();
    model.save(&path).unwrap();
    let o = cmd(dir.path())
        .args(["rep.onnx", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["kind"], "onnx");
    assert_eq!(r["opset"], model.opset());
    let g = model.graph();
    assert_eq!(r["nodes"], g.nodes().len());
    let conv = g.nodes().iter().filter(|n| n.op_type == "Conv").count();
    assert!(conv > 0);
    assert_eq!(r["ops"]["Conv"], conv);
    let total: u64 = r["ops"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, g.nodes().len());
    assert_eq!(r["inputs"][0]["name"], g.inputs()[0].name.as_str());
    assert!(
        !r["lint"].as_array().unwrap().is_empty(),
        "an unfused RepConv model lints"
    );

    let o = cmd(dir.path())
        .args(["rep.onnx", "--layers"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("opset") && text.contains("Conv") && text.contains("warning"),
        "{text}"
    );
}

#[test]
fn bad_targets_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("junk.onnx"),
        b"\x08\x07garbage that is not protobuf \xff\xff\xff",
    )
    .unwrap();
    for (target, needle) in [("missing.onnx", "no such file"), ("junk.onnx", "junk.onnx")] {
        let o = cmd(dir.path()).arg(target).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("trt-inspect: error: ") && err.contains(needle),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

fn write_engine(dir: &Path, bytes: &[u8]) -> PathBuf {
    common::write_engine(dir, bytes, (10, 3, 0), &["reparameterize"])
}

#[test]
fn engine_sidecar_checksum_and_compatibility() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    let engine = write_engine(dir.path(), &bytes);
    let o = cmd(dir.path())
        .args(["m.engine", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["kind"], "engine");
    assert_eq!(r["bytes"], 4096);
    assert_eq!(r["checksum"], "ok");
    assert_eq!(r["sidecar"]["gpu"]["name"], "Tesla T4");
    assert_eq!(r["sidecar"]["tensorrt"]["version"], "10.3.0");
    assert_eq!(
        r["compatibility"]["status"], "unknown",
        "no TensorRT here to compare with"
    );

    // a flipped byte is a checksum mismatch (exit 1)
    let mut bad = bytes.clone();
    bad[100] ^= 1;
    std::fs::write(&engine, &bad).unwrap();
    let o = cmd(dir.path())
        .args(["m.engine", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let r = json(&o);
    assert_eq!(r["checksum"], "mismatch");
    assert_eq!(r["compatibility"]["status"], "incompatible");

    // no sidecar
    std::fs::remove_file(trt::sidecar::sidecar_path(&engine)).unwrap();
    let o = cmd(dir.path()).arg("m.engine").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("sidecar"), "{text}");
}

#[test]
fn engine_plugin_libraries_and_class_names_are_shown_and_bad_plugins_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.engine");
    let mut sc = trt::sidecar::Sidecar::new(
        trt::sidecar::TensorRtInfo {
            version: trt::Version::new(10, 3, 0),
            version_compatible: false,
            hardware_compatibility: trt::sidecar::HardwareCompatibility::None,
            exclude_lean_runtime: false,
            compute_capabilities: Vec::new(),
        },
        trt::sidecar::GpuInfo {
            name: "Orin".into(),
            compute_capability: trt::ComputeCapability::new(8, 7),
        },
        trt::sidecar::Precision::Fp16,
    );
    sc.plugins = vec!["YoloLayer_TRT".into()];
    sc.plugin_libraries = vec!["libyolo_layer.so".into()];
    sc.class_names = (0..10).map(|i| format!("class{i}")).collect();
    trt::sidecar::write_engine(&path, b"engine bytes", &mut sc).unwrap();

    let o = cmd(dir.path()).arg("m.engine").output().unwrap();
    common::assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("plugin libraries  libyolo_layer.so (load with --plugins)"),
        "{text}"
    );
    assert!(
        text.contains("classes   10 (class0, class1,") && text.contains("… 2 more"),
        "{text}"
    );
    let r = json(
        &cmd(dir.path())
            .args(["m.engine", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(r["sidecar"]["plugin_libraries"][0], "libyolo_layer.so");
    assert_eq!(r["sidecar"]["class_names"][9], "class9");

    std::fs::write(dir.path().join("libyolo_layer.so"), "not ELF").unwrap();
    let o = cmd(dir.path())
        .args(["m.engine", "--plugins", "libyolo_layer.so"])
        .output()
        .unwrap();
    common::assert_fails(
        &o,
        "trt-inspect",
        1,
        "libyolo_layer.so: is not a shared library",
    );
}

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_system_reports_the_lean_runtime_and_no_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::real_env(&mut cmd(dir.path()))
        .args(["system", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&o);
    assert_eq!(r["tensorrt"]["found"], true);
    assert_eq!(r["tensorrt"]["version"], "11.4.0");
    assert_eq!(r["tensorrt"]["flavor"], "lean");
    assert_eq!(r["cudart"]["found"], true);
    assert_eq!(r["cuda"]["gpus"].as_array().unwrap().len(), 0);
    assert!(
        r["cuda"]["error"]
            .as_str()
            .unwrap()
            .contains("no usable CUDA device"),
        "{}",
        r["cuda"]
    );
    assert_eq!(r["can_build"], false);
    assert_eq!(r["can_run"], false);
    let blockers = r["build_blockers"].to_string();
    assert!(
        blockers.contains("lean runtime") && blockers.contains("cannot build"),
        "{blockers}"
    );

    let o = common::real_env(&mut cmd(dir.path()))
        .arg("system")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("version 11.4.0") && text.contains("none usable"),
        "{text}"
    );
}

/// A closed stdout (`| grep -q`, `| head`) is not an error and never a panic; a full disk is an error (exit 1).
#[test]
fn closed_or_full_stdout_is_handled_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "m.onnx");
    let runs: [(&std::path::Path, Vec<&str>); 3] = [
        (&bin(), vec!["m.onnx"]),
        (&bin(), vec!["system"]),
        (
            std::path::Path::new(env!("CARGO_BIN_EXE_trt-build")),
            vec![
                "m.onnx",
                "--dry-run",
                "--trt-release",
                "10.3",
                "--no-verify",
            ],
        ),
    ];
    for (exe, args) in runs {
        let o = common::run_with_closed_stdout(common::no_trt_cmd(exe, dir.path()).args(&args));
        let err = common::stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            matches!(o.status.code(), Some(0) | Some(3)),
            "{args:?}: {:?} {err}",
            o.status
        );
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        // /dev/full: writing fails with ENOSPC, which is a real error.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = common::no_trt_cmd(exe, dir.path())
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let err = common::stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left"), "{args:?}: {err}");
    }
}

#[test]
fn engines_from_other_tools_show_ultralytics_metadata_and_read_with_no_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let engine: Vec<u8> = (0..4096u32).map(|i| (i * 29 % 251) as u8).collect();
    std::fs::write(
        dir.path().join("yolov8n.engine"),
        common::ultralytics_engine(&engine, &["person", "bicycle", "car"]),
    )
    .unwrap();
    // Without --no-sidecar: the missing sidecar is the verdict (exit 1), the fix is named, the metadata is shown.
    let o = cmd(dir.path())
        .args(["yolov8n.engine", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    let r = json(&o);
    let m = &r["embedded_metadata"];
    assert_eq!(
        m["names"],
        serde_json::json!(["person", "bicycle", "car"]),
        "{r}"
    );
    assert_eq!(m["imgsz"], serde_json::json!([640, 640]), "{r}");
    assert_eq!(
        (m["task"].as_str(), m["version"].as_str()),
        (Some("detect"), Some("8.3.40"))
    );
    let file_len = std::fs::metadata(dir.path().join("yolov8n.engine"))
        .unwrap()
        .len();
    assert_eq!(m["bytes"].as_u64().unwrap() + 4096, file_len, "{r}");
    assert_eq!(r["checksum"], "unchecked");
    let reason = r["compatibility"]["reason"].as_str().unwrap();
    assert!(reason.contains("--no-sidecar"), "{reason}");
    assert!(
        r["sidecar_error"]
            .as_str()
            .unwrap()
            .contains("--no-sidecar"),
        "{r}"
    );

    // With it: not an error; TensorRT would read it (none here).
    let o = cmd(dir.path())
        .args(["yolov8n.engine", "--json", "--no-sidecar"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["compatibility"]["status"], "unknown");
    assert!(r["compatibility"]["reason"]
        .as_str()
        .unwrap()
        .contains("without provenance checks"));

    let o = cmd(dir.path())
        .args(["yolov8n.engine", "--no-sidecar"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let text = common::stdout(&o);
    assert!(
        text.contains("Ultralytics 8.3.40, task detect, imgsz 640x640, batch 1"),
        "{text}"
    );
    assert!(
        text.contains("classes   3 (person, bicycle, car)"),
        "{text}"
    );

    // A plain engine (trtexec's) has no metadata to show.
    std::fs::write(dir.path().join("plain.engine"), &engine).unwrap();
    let o = cmd(dir.path())
        .args(["plain.engine", "--json", "--no-sidecar"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = json(&o);
    assert!(r.get("embedded_metadata").is_none(), "{r}");
    assert_eq!(r["bytes"], 4096);
}
