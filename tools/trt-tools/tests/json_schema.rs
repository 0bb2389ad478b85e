//! Every `--json` document of every tool starts with a `"schema"` tag naming the document and its version, and the
//! two inspect commands describe a model's inputs and outputs the same way (`name`, `dtype`, `dims` with `null` for a
//! dynamic dimension).

use serde_json::Value;

mod common;

/// The raw stdout, checked to start with the schema tag; the parsed document.
fn document(exe: &str, dir: &std::path::Path, args: &[&str]) -> Value {
    let o = common::no_trt_cmd(exe, dir).args(args).output().unwrap();
    let text = common::stdout(&o);
    assert!(
        text.trim_start().starts_with("{\n  \"schema\": \""),
        "{exe} {args:?}: the document does not start with its schema tag:\n{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let schema = v["schema"].as_str().unwrap();
    let parts: Vec<&str> = schema.split('/').collect();
    assert!(
        parts.len() == 2 && parts[0].starts_with("trt-") && parts[1].parse::<u32>().is_ok(),
        "{schema}: not document/version"
    );
    v
}

#[test]
fn every_json_document_names_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::sample(d, "yolov9", "m.onnx");
    common::sample(d, "tiny-detector", "det.onnx");
    let calib = common::calib_images(d, 2, 1);
    let scene = std::fs::read_dir(&calib)
        .unwrap()
        .chain(std::fs::read_dir(calib.join("sub")).unwrap())
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a calibration image");
    let onnx = env!("CARGO_BIN_EXE_trt-onnx");
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            onnx,
            vec!["inspect", "m.onnx", "--json"],
            "trt-onnx-inspect/1",
        ),
        (
            onnx,
            vec!["fuse", "m.onnx", "-o", "f.onnx", "--json"],
            "trt-onnx-fuse/1",
        ),
        (
            onnx,
            vec!["verify", "m.onnx", "f.onnx", "--json"],
            "trt-onnx-verify/1",
        ),
        (
            onnx,
            vec!["fp16", "f.onnx", "-o", "h.onnx", "--json"],
            "trt-onnx-fp16/1",
        ),
        (
            onnx,
            vec![
                "bench",
                "f.onnx",
                "--iterations",
                "1",
                "--warmup",
                "0",
                "--json",
            ],
            "trt-onnx-bench/1",
        ),
        (
            onnx,
            vec![
                "quantize", "f.onnx", "--calib", "calib", "-o", "q.onnx", "--json",
            ],
            "trt-onnx-quantize/1",
        ),
        (
            env!("CARGO_BIN_EXE_trt-build"),
            vec!["m.onnx", "--dry-run", "--json", "--no-verify"],
            "trt-build/1",
        ),
        (
            env!("CARGO_BIN_EXE_trt-inspect"),
            vec!["m.onnx", "--json"],
            "trt-inspect-onnx/1",
        ),
        (
            env!("CARGO_BIN_EXE_trt-inspect"),
            vec!["system", "--json"],
            "trt-inspect-system/1",
        ),
        (
            env!("CARGO_BIN_EXE_trt-detect"),
            vec!["--model", "det.onnx", scene.to_str().unwrap(), "--json"],
            "trt-detect/1",
        ),
    ];
    for (exe, args, schema) in cases {
        let v = document(exe, d, &args);
        assert_eq!(v["schema"], schema, "{exe} {args:?}");
    }
    // One description of a model's IO in both inspect commands.
    let a = document(onnx, d, &["inspect", "m.onnx", "--json"]);
    let b = document(env!("CARGO_BIN_EXE_trt-inspect"), d, &["m.onnx", "--json"]);
    let io = |v: &Value, key: &str| {
        v.get(key)
            .or_else(|| v.get("model").and_then(|m| m.get(key)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert!(io(&a, "inputs").is_array(), "{a}");
    assert_eq!(io(&a, "inputs"), io(&b, "inputs"), "{a}\n{b}");
    assert_eq!(io(&a, "outputs"), io(&b, "outputs"));
    assert_eq!(io(&a, "inputs")[0]["dtype"], "FLOAT");
}
