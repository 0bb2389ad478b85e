//! Real engines from the real TensorRT for RTX builder, on a machine with no GPU (TensorRT-RTX compiles ahead of
//! time). `rtx_*` tests need the tools built with the shim compiled against TensorRT-RTX's headers
//! (`--features trt-sys/require-tensorrt-rtx`), `TRT_TEST_RTX_LIB` (libtensorrt_rtx.so.1, with its ONNX parser beside
//! it) and `TRT_TEST_CUDART_DIR` (libcudart.so.13): `scripts/test.sh` sets all of it up and runs them. Run by hand
//! they fail loudly when any of it is missing; they never pass by skipping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::Value;

mod common;

use common::{assert_ok, json, stderr};

fn build_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-build"))
}

fn inspect_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-inspect"))
}

/// The real TensorRT-RTX library and libcudart directory; panics when the environment or the build is not set up
/// (the binaries under test must carry a shim compiled against TensorRT-RTX's headers).
fn rtx_env() -> &'static (String, String) {
    static ENV: OnceLock<(String, String)> = OnceLock::new();
    ENV.get_or_init(|| {
        let lib = std::env::var("TRT_TEST_RTX_LIB").expect(
            "TRT_TEST_RTX_LIB must name libtensorrt_rtx.so.1 (scripts/nvidia-wheels.sh sets it)",
        );
        let cudart = std::env::var("TRT_TEST_CUDART_DIR")
            .expect("TRT_TEST_CUDART_DIR must name the libcudart.so.13 directory");
        assert!(Path::new(&lib).is_file(), "TRT_TEST_RTX_LIB={lib} does not exist");
        let o = Command::new(inspect_bin())
            .args(["system", "--json"])
            .env("TRT_LIBRARY", &lib)
            .env("CUDA_LIB_DIR", &cudart)
            .output()
            .unwrap();
        let r = json(&o);
        let compiled = r["compiled_tensorrt"].as_str().unwrap_or("none").to_owned();
        assert!(
            compiled.starts_with("RTX "),
            "the tools carry a shim for TensorRT {compiled}, not TensorRT-RTX: build them with --features \
             trt-sys/require-tensorrt-rtx and TENSORRT_INCLUDE_DIR at the TensorRT-RTX headers"
        );
        assert_eq!(r["can_build"], true, "TensorRT-RTX cannot build here: {r}");
        (lib, cudart)
    })
}

/// A command running `exe` in `dir` against the real TensorRT-RTX and libcudart only.
fn rtx_cmd(exe: &Path, dir: &Path) -> Command {
    let (lib, cudart) = rtx_env();
    let mut c = Command::new(exe);
    c.current_dir(dir)
        .env("TRT_LIBRARY", lib)
        .env("CUDA_LIB_DIR", cudart)
        .env("TRT_YOLO_CACHE", dir.join("no-cache-here"))
        .env_remove("TRT_LIB_DIR")
        .env_remove("RUST_LOG")
        .env_remove(trt_tools::TEST_PAUSE_ENV);
    c
}

/// `dir/dyn.engine` from the conv-bn sample with a dynamic batch (a sample without a batch-1 Reshape in its head, so
/// every batch is a valid input; made dynamic in the ONNX itself, as `export(dynamic=True)` does), profile 1/2/4 at
/// 16×16, plus `extra` options: the report.
fn build_dynamic_batch(dir: &Path, extra: &[&str]) -> Value {
    common::sample(dir, "conv-bn", "m.onnx");
    common::make_dynamic(&dir.join("m.onnx"), &dir.join("dyn.onnx"), &[0]);
    let mut args = vec![
        "dyn.onnx",
        "--minShapes=images:1x3x16x16",
        "--optShapes=images:2x3x16x16",
        "--maxShapes=images:4x3x16x16",
        "-o",
        "dyn.engine",
    ];
    args.extend_from_slice(extra);
    build(dir, &args)
}

/// `trt-build ARGS --json` in `dir`: the report, after asserting exit 0.
fn build(dir: &Path, args: &[&str]) -> Value {
    let o = rtx_cmd(&build_bin(), dir)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert_ok(&o);
    let r = json(&o);
    assert_eq!(r["status"], "built", "{r}");
    r
}

fn sidecar(dir: &Path, engine: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(format!("{engine}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn inspect(dir: &Path, engine: &str) -> (Output, Value) {
    let o = rtx_cmd(&inspect_bin(), dir)
        .args([engine, "--json"])
        .output()
        .unwrap();
    let r = json(&o);
    (o, r)
}

/// The checks every real RTX engine passes: a non-trivial file, a sidecar naming TensorRT-RTX and no build GPU,
/// and NVIDIA's own header check finding it well-formed (no GPU here to judge more).
fn assert_real_engine(dir: &Path, engine: &str, precision: &str) -> u64 {
    let bytes = std::fs::metadata(dir.join(engine)).unwrap().len();
    assert!(bytes > 100_000, "{engine} is only {bytes} bytes");
    let sc = sidecar(dir, engine);
    assert!(
        sc["tensorrt"]["version"]
            .as_str()
            .unwrap()
            .starts_with("RTX 1."),
        "{sc}"
    );
    assert_eq!(sc["precision"], precision, "{sc}");
    assert!(
        sc.get("gpu").is_none(),
        "an ahead-of-time RTX build has no build GPU: {sc}"
    );
    let (o, r) = inspect(dir, engine);
    assert_eq!(r["checksum"], "ok", "{r}");
    assert_eq!(r["validity"]["verdict"], "well-formed", "{r}");
    assert_eq!(r["validity"]["diagnostics"], 0, "{r}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "a well-formed engine on a machine without a GPU is not an error: {}",
        stderr(&o)
    );
    bytes
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_yolov7_and_yolov9_samples_build_fp32_and_fp16_engines() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["yolov7-tiny", "yolov9"] {
        let onnx = format!("{kind}.onnx");
        common::sample(dir.path(), kind, &onnx);
        let fp32 = format!("{kind}.fp32.engine");
        let r = build(dir.path(), &[&onnx, "-o", &fp32]);
        assert_eq!(r["tensorrt"]["source"], "loaded library", "{r}");
        assert!(
            r["tensorrt"]["version"]
                .as_str()
                .unwrap()
                .starts_with("RTX 1."),
            "{r}"
        );
        let steps = common::step_names(&r);
        assert!(steps.iter().any(|s| s == "reparameterize"), "{steps:?}");
        let b32 = assert_real_engine(dir.path(), &fp32, "fp32");

        let fp16 = format!("{kind}.fp16.engine");
        let parsed = format!("{kind}.fp16.parsed.onnx");
        let r = build(
            dir.path(),
            &[&onnx, "--fp16", "-o", &fp16, "--emit-onnx", &parsed],
        );
        assert_eq!(r["precision_plan"]["onnx_fp16_pass"], true, "{r}");
        assert_eq!(r["precision_plan"]["strongly_typed"], true, "{r}");
        let b16 = assert_real_engine(dir.path(), &fp16, "fp16");
        let sc = sidecar(dir.path(), &fp16);
        assert_eq!(
            sc["pipeline"],
            serde_json::json!(["reparameterize", "fp16"]),
            "{sc}"
        );
        // What TensorRT parsed carries FP16 weights (a strongly typed network takes its precision from them) ...
        let halves = initializers_of_type(
            &dir.path().join(&parsed),
            yolo_onnx::graph::DataType::Float16,
        );
        assert!(
            halves > 10,
            "{kind}: only {halves} FP16 initializers in what TensorRT parsed"
        );
        // ... and the engine built from it holds half-size weights: smaller than the FP32 engine.
        assert!(
            b16 < b32,
            "{kind}: FP16 engine {b16} bytes vs FP32 {b32} bytes"
        );
    }
}

/// Initializers of `elem` type in an ONNX file.
fn initializers_of_type(path: &Path, elem: yolo_onnx::graph::DataType) -> usize {
    let model = yolo_onnx::Model::load(path).unwrap();
    model
        .graph()
        .initializers()
        .iter()
        .filter(|t| t.data_type == elem as i32)
        .count()
}

/// Nodes of `op` in an ONNX file.
fn nodes_of(path: &Path, op: &str) -> usize {
    let model = yolo_onnx::Model::load(path).unwrap();
    model
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == op)
        .count()
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_int8_engines_from_rust_calibration_and_qdq() {
    let dir = tempfile::tempdir().unwrap();
    common::calib_images(dir.path(), 6, 11);
    for kind in ["yolov7-tiny", "yolov9"] {
        let onnx = format!("{kind}.onnx");
        common::sample(dir.path(), kind, &onnx);
        let fp32 = format!("{kind}.fp32.engine");
        build(dir.path(), &[&onnx, "-o", &fp32, "--no-verify"]);
        let int8 = format!("{kind}.int8.engine");
        let parsed = format!("{kind}.int8.parsed.onnx");
        let r = build(
            dir.path(),
            &[
                &onnx,
                "--int8",
                "--calib",
                "calib",
                "-o",
                &int8,
                "--emit-onnx",
                &parsed,
            ],
        );
        assert_eq!(r["precision_plan"]["onnx_qdq_pass"], true, "{r}");
        assert_eq!(r["precision_plan"]["run_calibration"], true, "{r}");
        assert_eq!(r["precision_plan"]["calibrator_from_cache"], false, "{r}");
        let b8 = assert_real_engine(dir.path(), &int8, "int8");
        let b32 = std::fs::metadata(dir.path().join(&fp32)).unwrap().len();
        let sc = sidecar(dir.path(), &int8);
        let pipeline: Vec<&str> = sc["pipeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            pipeline
                .iter()
                .any(|p| p.contains("int8") || p.contains("qdq")),
            "{pipeline:?}"
        );
        // TensorRT parsed an explicitly quantized network: a Q/DQ pair in front of every convolution.
        let path = dir.path().join(&parsed);
        let (q, dq, conv) = (
            nodes_of(&path, "QuantizeLinear"),
            nodes_of(&path, "DequantizeLinear"),
            nodes_of(&path, "Conv"),
        );
        assert!(
            q >= conv && dq >= conv && conv > 5,
            "{kind}: {q} Q, {dq} DQ, {conv} Conv"
        );
        // And built INT8 kernels from it: the engine is not the FP32 one (for these small samples the INT8 kernel
        // code outweighs the smaller weights, so only a clear difference is asserted).
        let diff = (b8 as f64 - b32 as f64).abs() / b32 as f64;
        assert!(
            diff > 0.1,
            "{kind}: INT8 engine {b8} bytes vs FP32 {b32} bytes"
        );
        // The project's own Q/DQ output builds again without a warning (weight Q/DQ pairs are not folding
        // candidates: they used to print one "refused constant-fold" line per weight).
        let again = format!("{kind}.again.engine");
        let o = rtx_cmd(&build_bin(), dir.path())
            .args([parsed.as_str(), "-o", again.as_str()])
            .output()
            .unwrap();
        assert_ok(&o);
        let warnings: Vec<String> = stderr(&o)
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("warning"))
            .map(str::to_string)
            .collect();
        assert!(warnings.is_empty(), "{kind}: {warnings:#?}");
    }
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_dynamic_batch_profile_is_built_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let r = build_dynamic_batch(dir.path(), &["--fp16"]);
    assert_eq!(r["profiles"].as_array().unwrap().len(), 1, "{r}");
    assert_real_engine(dir.path(), "dyn.engine", "fp16");
    let sc = sidecar(dir.path(), "dyn.engine");
    let p = &sc["profiles"][0]["inputs"][0];
    assert_eq!(p["name"], "images");
    assert_eq!(p["min"], serde_json::json!([1, 3, 16, 16]));
    assert_eq!(p["opt"], serde_json::json!([2, 3, 16, 16]));
    assert_eq!(p["max"], serde_json::json!([4, 3, 16, 16]));
    assert_eq!(
        sc["io"][0]["shape"][0], -1,
        "the engine's batch is dynamic: {sc}"
    );
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_compute_capability_targets_are_compiled_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "m.onnx");
    // T4 alone, into the default engines/out path named after the target.
    let r = build(
        dir.path(),
        &["m.onnx", "--fp16", "--compute-capability", "7.5"],
    );
    assert_eq!(r["output"], "engines/out/m.fp16.rtx-sm75.engine", "{r}");
    assert_eq!(
        r["precision_plan"]["compute_capabilities"],
        serde_json::json!(["7.5"])
    );
    assert_real_engine(dir.path(), "engines/out/m.fp16.rtx-sm75.engine", "fp16");
    let sc = sidecar(dir.path(), "engines/out/m.fp16.rtx-sm75.engine");
    assert_eq!(
        sc["tensorrt"]["compute_capabilities"],
        serde_json::json!(["7.5"]),
        "{sc}"
    );
    // A list: one engine for T4, A10 and L4 (trtexec-style alias too).
    let r = build(
        dir.path(),
        &[
            "m.onnx",
            "--computeCapabilities=7.5,8.6,8.9",
            "-o",
            "multi.engine",
        ],
    );
    assert_eq!(
        r["precision_plan"]["compute_capabilities"],
        serde_json::json!(["7.5", "8.6", "8.9"])
    );
    let multi = assert_real_engine(dir.path(), "multi.engine", "fp32");
    let single = std::fs::metadata(dir.path().join("engines/out/m.fp16.rtx-sm75.engine"))
        .unwrap()
        .len();
    assert!(
        multi > single,
        "three targets ({multi} B) carry more code than one ({single} B)"
    );
    // What RTX does not compile for is refused before any work, naming the targets it has.
    let o = rtx_cmd(&build_bin(), dir.path())
        .args([
            "m.onnx",
            "--compute-capability",
            "7.0",
            "-o",
            "volta.engine",
        ])
        .output()
        .unwrap();
    common::assert_fails(&o, "trt-build", 1, "--compute-capability 7.0");
    assert!(
        stderr(&o).contains("7.5, 8.0, 8.6, 8.9, 12.0"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("volta.engine").exists());
    // `current` needs the GPU that is not here.
    let o = rtx_cmd(&build_bin(), dir.path())
        .args([
            "m.onnx",
            "--compute-capability",
            "current",
            "-o",
            "cur.engine",
        ])
        .output()
        .unwrap();
    common::assert_fails(&o, "trt-build", 1, "--compute-capability current");
    assert!(
        stderr(&o).contains("--compute-capability 7.5,8.6"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("cur.engine").exists());
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_parse_error_names_the_onnx_node_and_its_op() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "conv-bn", "m.onnx");
    let mut model = yolo_onnx::Model::load(dir.path().join("m.onnx")).unwrap();
    let node = model
        .graph_mut()
        .nodes_mut()
        .iter_mut()
        .find(|n| n.op_type == "Conv")
        .expect("the sample has a Conv");
    node.op_type = "YoloMysteryOp".into();
    node.name = "the_bad_node".into();
    model.save(dir.path().join("bad.onnx")).unwrap();
    let o = rtx_cmd(&build_bin(), dir.path())
        .args([
            "bad.onnx",
            "--no-reparam",
            "--no-verify",
            "-o",
            "bad.engine",
        ])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in ["bad.onnx", "the_bad_node", "YoloMysteryOp"] {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    // TensorRT's own log lines reach a pipe without terminal colour codes.
    assert!(err.contains("ERROR"), "TensorRT's log is shown: {err}");
    assert!(!err.contains('\u{1b}'), "colour codes in a pipe: {err:?}");
    assert!(!dir.path().join("bad.engine").exists());
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_killed_builds_leave_nothing_at_the_output_path() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "m.onnx");
    let started = Instant::now();
    build(dir.path(), &["m.onnx", "--fp16", "-o", "whole.engine"]);
    let whole = started.elapsed();
    let mut killed_while_running = 0;
    for (i, fraction) in [0.2, 0.5, 0.8, 0.95].into_iter().enumerate() {
        let out = format!("k{i}.engine");
        let mut child = rtx_cmd(&build_bin(), dir.path())
            .args(["m.onnx", "--fp16", "-q", "-o", &out])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(fraction));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL: no cleanup code runs
            killed_while_running += 1;
        }
        let status = child.wait().unwrap();
        let engine = dir.path().join(&out);
        let side = dir.path().join(format!("{out}.json"));
        if status.success() {
            // It finished first: then the pair is complete.
            assert!(engine.is_file() && side.is_file());
        } else {
            assert!(!engine.exists(), "a killed build left {}", engine.display());
            assert!(!side.exists(), "a killed build left {}", side.display());
        }
    }
    assert!(
        killed_while_running >= 2,
        "only {killed_while_running} build(s) were still running when killed (a build takes {whole:?})"
    );
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_corrupt_and_truncated_engines_are_refused_by_the_validity_check() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov7-tiny", "m.onnx");
    build(dir.path(), &["m.onnx", "-o", "good.engine"]);
    let good = std::fs::read(dir.path().join("good.engine")).unwrap();
    let mut zeroed = good.clone();
    zeroed[..64].fill(0);
    let cases: [(&str, Vec<u8>); 3] = [
        ("truncated.engine", good[..16].to_vec()),
        ("zeroed.engine", zeroed),
        ("text.engine", b"this is not an engine at all".repeat(200)),
    ];
    for (name, bytes) in cases {
        std::fs::write(dir.path().join(name), &bytes).unwrap();
        let (o, r) = inspect(dir.path(), name);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert_eq!(r["validity"]["verdict"], "invalid", "{name}: {r}");
        assert_eq!(
            r["validity"]["codes"],
            serde_json::json!(["malformed-engine"]),
            "{name}: {r}"
        );
        assert_eq!(r["compatibility"]["status"], "incompatible", "{name}: {r}");
        let reason = r["compatibility"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("not a well-formed TensorRT-RTX engine"),
            "{name}: {reason}"
        );
        // The text report says the same in words.
        let o = rtx_cmd(&inspect_bin(), dir.path())
            .arg(name)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let text = common::stdout(&o);
        assert!(
            text.contains("validity  invalid") && text.contains("malformed-engine"),
            "{text}"
        );
    }
    // The good engine with its sidecar swapped onto truncated bytes: the sidecar check refuses it first.
    std::fs::write(dir.path().join("good.engine"), &good[..good.len() / 2]).unwrap();
    let (o, r) = inspect(dir.path(), "good.engine");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(r["checksum"], "mismatch", "{r}");
}

/// Engines from other tools have no sidecar: with `--no-sidecar`, Ultralytics' metadata is split off and NVIDIA's
/// own header check judges what follows exactly as it judges the engine trt-build wrote; bytes in front that are
/// not Ultralytics' metadata stay in front and make the engine malformed to TensorRT-RTX (the control).
#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_engines_from_other_tools_are_judged_after_ultralytics_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::sample(d, "conv-bn", "m.onnx");
    build(d, &["m.onnx", "-o", "good.engine"]);
    let good = std::fs::read(d.join("good.engine")).unwrap();
    std::fs::write(
        d.join("yolov8n.engine"),
        common::ultralytics_engine(&good, &["person", "car"]),
    )
    .unwrap();
    std::fs::write(d.join("plain.engine"), &good).unwrap();
    let mut not_metadata = 12i32.to_le_bytes().to_vec();
    not_metadata.extend_from_slice(b"not metadata");
    not_metadata.extend_from_slice(&good);
    std::fs::write(d.join("prefixed.engine"), &not_metadata).unwrap();
    let inspect_with = |engine: &str, flag: bool| {
        let mut c = rtx_cmd(&inspect_bin(), d);
        c.args([engine, "--json"]);
        if flag {
            c.arg("--no-sidecar");
        }
        let o = c.output().unwrap();
        let r = json(&o);
        (o, r)
    };
    for (engine, flag, code) in [
        ("yolov8n.engine", true, 0),
        ("plain.engine", true, 0),
        ("yolov8n.engine", false, 1),
    ] {
        let (o, r) = inspect_with(engine, flag);
        assert_eq!(r["validity"]["verdict"], "well-formed", "{engine}: {r}");
        assert_eq!(r["validity"]["diagnostics"], 0, "{engine}: {r}");
        assert_eq!(o.status.code(), Some(code), "{engine}: {}", stderr(&o));
    }
    let (_, r) = inspect_with("yolov8n.engine", true);
    assert_eq!(
        r["embedded_metadata"]["names"],
        serde_json::json!(["person", "car"]),
        "{r}"
    );
    let (o, r) = inspect_with("prefixed.engine", true);
    assert_eq!(r["validity"]["verdict"], "invalid", "{r}");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // The programs that run engines get past every check to the GPU (none here: exit 3).
    let o = rtx_cmd(&PathBuf::from(env!("CARGO_BIN_EXE_trt-bench")), d)
        .args(["--no-sidecar", "yolov8n.engine", "--iterations", "2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_progress_monitor_reports_real_phases() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "m.onnx");
    let r = build(dir.path(), &["m.onnx", "-o", "m.engine"]);
    assert_eq!(r["precision_plan"]["progress_monitor"], true, "{r}");
    let phases = r["tensorrt_phases"].as_array().expect("phases reported");
    let top: Vec<&Value> = phases
        .iter()
        .filter(|p| p.get("parent").is_none())
        .collect();
    assert!(!top.is_empty(), "no top-level phase: {phases:?}");
    assert!(
        phases.iter().any(|p| p.get("parent").is_some()),
        "no nested phase: {phases:?}"
    );
    for p in phases {
        let steps = p["steps"].as_i64().unwrap();
        let done = p["completed"].as_i64().unwrap();
        assert!(steps >= 1 && (0..=steps).contains(&done), "{p}");
    }
    assert!(
        phases
            .iter()
            .any(|p| p["completed"].as_i64() == p["steps"].as_i64()),
        "no phase ran to completion: {phases:?}"
    );
}

/// A deterministic input pattern in 0..1.
fn fill_input(buf: &mut yolo_rt::InputBuffer) {
    match buf.as_mut() {
        yolo_rt::InputMut::F32(s) => {
            for (i, x) in s.iter_mut().enumerate() {
                *x = ((i * 37) % 251) as f32 / 250.0;
            }
        }
        yolo_rt::InputMut::F16(s) => {
            for (i, x) in s.iter_mut().enumerate() {
                *x = half::f16::from_f32(((i * 37) % 251) as f32 / 250.0);
            }
        }
    }
}

fn run_backend(b: &mut dyn yolo_rt::Backend) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut buf = b.alloc_input().unwrap();
    fill_input(&mut buf);
    b.run(&buf, 1)
        .unwrap()
        .iter()
        .map(|v| (v.name.to_owned(), v.shape.to_vec(), v.to_f32().into_owned()))
        .collect()
}

/// On a GPU TensorRT-RTX supports: an engine compiled for the GPU present (`--compute-capability current`) runs
/// and gives the CPU executor's outputs on the same input (the ONNX TensorRT parsed, from `--emit-onnx`), and its
/// JIT runtime cache is saved next to the engine and seeds the next load.
#[test]
#[ignore = "needs a GPU TensorRT-RTX supports (compute capability 7.5, 8.x or 12.x), TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and the RTX build"]
fn gpu_rtx_engine_for_this_gpu_matches_the_cpu_executor_and_keeps_its_runtime_cache() {
    let (lib, cudart) = rtx_env();
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "m.onnx");
    let r = build(
        dir.path(),
        &[
            "m.onnx",
            "--compute-capability",
            "current",
            "-o",
            "m.engine",
            "--emit-onnx",
            "parsed.onnx",
        ],
    );
    assert_eq!(r["status"], "built");
    // This process loads TensorRT-RTX itself (the loader reads TRT_LIBRARY and CUDA_LIB_DIR once).
    if std::env::var_os("TRT_LIBRARY").is_none() {
        std::env::set_var("TRT_LIBRARY", lib);
        std::env::set_var("CUDA_LIB_DIR", cudart);
    }
    let engine = dir.path().join("m.engine");
    let cache = dir.path().join("m.engine.runtime-cache");
    let options = yolo_rt::engine::EngineOptions {
        sessions: 1,
        ..Default::default()
    };
    let mut cpu =
        yolo_rt::cpu::CpuBackend::load(dir.path().join("parsed.onnx"), &Default::default())
            .unwrap();
    let want = run_backend(&mut cpu);
    for start in ["first (cache written)", "second (cache read)"] {
        let mut gpu = yolo_rt::engine::EngineBackend::load(&engine, &options).unwrap();
        assert_same_outputs(&want, &run_backend(&mut gpu), start);
        drop(gpu);
        let len = std::fs::metadata(&cache).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{start}: no runtime cache at {}", cache.display());
    }
    // Polygraphy's check through trt-bench: the engine against the ONNX TensorRT parsed passes; against a model
    // with one weight changed it fails with exit 1, naming the output.
    let bench = |onnx: &str| {
        rtx_cmd(&PathBuf::from(env!("CARGO_BIN_EXE_trt-bench")), dir.path())
            .args([
                "m.engine",
                "--compare-onnx",
                onnx,
                "--atol",
                "2e-3",
                "--rtol",
                "2e-3",
                "--json",
            ])
            .output()
            .unwrap()
    };
    let o = bench("parsed.onnx");
    assert_ok(&o);
    let r = json(&o);
    assert_eq!(
        (r["schema"].as_str(), r["passed"].as_bool()),
        (Some("trt-bench-compare-onnx/1"), Some(true)),
        "{r}"
    );
    assert!(r["worst"].as_array().is_some_and(|w| !w.is_empty()), "{r}");
    let mut changed = yolo_onnx::Model::load(dir.path().join("parsed.onnx")).unwrap();
    yolo_onnx::testgen::perturb_first_conv_weight(&mut changed, 0.5);
    changed.save(dir.path().join("changed.onnx")).unwrap();
    let o = bench("changed.onnx");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json(&o)["passed"], false);

    // The same engine as Ultralytics packages it, with no sidecar: the same outputs, and its class names.
    let foreign = dir.path().join("yolov9u.engine");
    std::fs::write(
        &foreign,
        common::ultralytics_engine(&std::fs::read(&engine).unwrap(), &["a", "b", "c"]),
    )
    .unwrap();
    let mut gpu = yolo_rt::engine::EngineBackend::load(
        &foreign,
        &yolo_rt::engine::EngineOptions {
            without_sidecar: true,
            ..options.clone()
        },
    )
    .unwrap();
    assert_eq!(
        yolo_rt::Backend::class_names(&gpu),
        Some(&["a".to_owned(), "b".to_owned(), "c".to_owned()][..])
    );
    assert_same_outputs(&want, &run_backend(&mut gpu), "without a sidecar");
}

/// The engine's outputs `got` are the CPU executor's `want`: same names and shapes, values within 2e-3 (relative
/// above 1, absolute below).
fn assert_same_outputs(
    want: &[(String, Vec<usize>, Vec<f32>)],
    got: &[(String, Vec<usize>, Vec<f32>)],
    label: &str,
) {
    assert_eq!(want.len(), got.len(), "{label}");
    for ((wn, ws, wd), (gn, gs, gd)) in want.iter().zip(got) {
        assert_eq!((wn, ws), (gn, gs), "{label}");
        let worst = wd
            .iter()
            .zip(gd)
            .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 2e-3,
            "{label}: output `{wn}` differs from the CPU executor by {worst}"
        );
    }
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_triton_repositories_and_deepstream_configs_carry_the_real_plan() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov9", "v9.onnx");
    // The parser library itself is tested by its C++ harness (tools/nvds-yolo-parser); a stand-in path here.
    std::fs::write(dir.path().join("libnvds_yolo_parser.so"), b"stand-in").unwrap();
    std::fs::write(dir.path().join("names.txt"), "a\nb\nc\nd\n").unwrap();
    let r = build(
        dir.path(),
        &[
            "v9.onnx",
            "--fp16",
            "-o",
            "v9.engine",
            "--classes",
            "names.txt",
            "--triton-repo",
            "repo",
            "--triton-version",
            "2",
            "--deepstream",
            "ds",
            "--deepstream-lib",
            "libnvds_yolo_parser.so",
        ],
    );
    let engine = std::fs::read(dir.path().join("v9.engine")).unwrap();
    let plan = dir.path().join("repo/v9/2/model.plan");
    assert_eq!(
        std::fs::read(&plan).unwrap(),
        engine,
        "model.plan is the engine byte for byte"
    );
    assert_eq!(r["deployed"]["triton"]["max_batch_size"], 0, "{r}");
    // The plan's sidecar is the engine's (same digest), and trt-inspect accepts the plan like the engine.
    let sc = sidecar(dir.path(), "repo/v9/2/model.plan");
    assert_eq!(sc["engine"], sidecar(dir.path(), "v9.engine")["engine"]);
    let config = dir.path().join("repo/v9/config.pbtxt");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("name: \"v9\"") && text.contains("dims: [ 1, 8, 336 ]"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("repo/v9/labels.txt")).unwrap(),
        "a\nb\nc\nd\n"
    );
    let o = rtx_cmd(&inspect_bin(), dir.path())
        .args(["v9.engine", "--triton", "v9"])
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(common::stdout(&o), text);
    let ds = std::fs::read_to_string(dir.path().join("ds/config_infer_primary.txt")).unwrap();
    let abs = std::fs::canonicalize(dir.path().join("v9.engine")).unwrap();
    assert!(
        ds.contains(&format!("model-engine-file={}\n", abs.display())),
        "{ds}"
    );
    assert!(
        ds.contains("network-mode=2\n") && ds.contains("num-detected-classes=4\n"),
        "{ds}"
    );

    // A dynamic batch: max_batch_size from the profile, dims without the batch.
    let r = build_dynamic_batch(dir.path(), &["--triton-repo", "repo"]);
    assert_eq!(r["deployed"]["triton"]["max_batch_size"], 4, "{r}");
    let dyn_config = dir.path().join("repo/dyn/config.pbtxt");
    let text = std::fs::read_to_string(&dyn_config).unwrap();
    assert!(
        text.contains("dims: [ 3, 16, 16 ]") && text.contains("dynamic_batching"),
        "{text}"
    );
    if let Some(parsed) = common::triton_schema_check(&[&config, &dyn_config]) {
        assert_eq!(parsed[0]["name"], "v9");
        assert_eq!(parsed[1]["max_batch_size"], 4);
    }
}

/// `trt-build ARGS` in `dir` expected to fail with `code` before TensorRT built anything: the error names `needle` and
/// no engine is written.
fn build_refused(dir: &Path, args: &[&str], code: i32, needle: &str) {
    let o = rtx_cmd(&build_bin(), dir).args(args).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !dir.join("refused.engine").exists(),
        "{args:?} wrote an engine"
    );
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_io_formats_are_set_on_the_network_and_recorded_as_the_engine_has_them() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "conv-bn", "m.onnx");
    // FP32 linear IO, as the ONNX declares it: accepted by the strongly typed RTX network.
    let r = build(
        dir.path(),
        &[
            "m.onnx",
            "--inputIOFormats=fp32:chw",
            "--outputIOFormats=fp32:chw",
            "-o",
            "f32.engine",
        ],
    );
    assert_eq!(r["io_formats"][0]["dtype"], "f32", "{r}");
    assert_real_engine(dir.path(), "f32.engine", "fp32");
    let sc = sidecar(dir.path(), "f32.engine");
    for t in sc["io"].as_array().unwrap() {
        assert_eq!(t["dtype"], "f32", "{sc}");
        assert_eq!(t["format"], "linear", "{sc}");
    }
    // FP16 IO needs an ONNX that declares it (trt-onnx fp16 --io-fp16); then the engine's IO is FP16.
    let o = rtx_cmd(Path::new(env!("CARGO_BIN_EXE_trt-onnx")), dir.path())
        .args([
            "fp16",
            "m.onnx",
            "--io-fp16",
            "-o",
            "m16.onnx",
            "--no-verify",
        ])
        .output()
        .unwrap();
    assert_ok(&o);
    let r = build(
        dir.path(),
        &[
            "m16.onnx",
            "--input-io-formats",
            "fp16:chw",
            "--output-io-formats",
            "fp16:chw",
            "-o",
            "f16.engine",
        ],
    );
    assert_eq!(r["io_formats"][0]["declared"], "f16", "{r}");
    let sc = sidecar(dir.path(), "f16.engine");
    let io = sc["io"].as_array().unwrap();
    assert!(!io.is_empty());
    for t in io {
        assert_eq!(
            t["dtype"], "f16",
            "the engine's IO type, as TensorRT reports it: {sc}"
        );
    }
    // Refused before TensorRT: an FP16 request on the FP32-IO model (strongly typed), a vectorized layout.
    build_refused(
        dir.path(),
        &[
            "m.onnx",
            "--fp16",
            "--inputIOFormats=fp16:chw",
            "-o",
            "refused.engine",
        ],
        1,
        "`images` is fp32 in the ONNX",
    );
    build_refused(
        dir.path(),
        &[
            "m.onnx",
            "--inputIOFormats=fp16:chw4",
            "-o",
            "refused.engine",
        ],
        2,
        "`fp16:chw4`",
    );
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_tactic_sources_are_applied_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "conv-bn", "m.onnx");
    for (spec, want) in [
        (
            "+EDGE_MASK_CONVOLUTIONS,+JIT_CONVOLUTIONS",
            vec!["EDGE_MASK_CONVOLUTIONS", "JIT_CONVOLUTIONS"],
        ),
        (
            "-EDGE_MASK_CONVOLUTIONS,+JIT_CONVOLUTIONS",
            vec!["JIT_CONVOLUTIONS"],
        ),
        ("-EDGE_MASK_CONVOLUTIONS,-JIT_CONVOLUTIONS", vec![]),
    ] {
        let engine = format!("t{}.engine", want.len());
        let r = build(
            dir.path(),
            &["m.onnx", &format!("--tacticSources={spec}"), "-o", &engine],
        );
        // What TensorRT's config reports after the change, in the report and the sidecar.
        assert_eq!(
            r["builder"]["tactic_sources"],
            serde_json::json!(want),
            "{spec}: {r}"
        );
        assert_real_engine(dir.path(), &engine, "fp32");
        assert_eq!(
            sidecar(dir.path(), &engine)["build_settings"]["tactic_sources"],
            serde_json::json!(want),
            "{spec}"
        );
    }
    // Without the option the release's defaults stay and nothing is recorded.
    build(dir.path(), &["m.onnx", "-o", "d.engine"]);
    assert!(sidecar(dir.path(), "d.engine")
        .get("build_settings")
        .is_none());
    // cuDNN tactics do not exist in TensorRT-RTX: refused by name before any work.
    build_refused(
        dir.path(),
        &[
            "m.onnx",
            "--tactic-sources",
            "-CUDNN",
            "-o",
            "refused.engine",
        ],
        1,
        "its sources are EDGE_MASK_CONVOLUTIONS, JIT_CONVOLUTIONS",
    );
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_sparsity_enable_and_force_build_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "yolov7-tiny", "m.onnx");
    let r = build(
        dir.path(),
        &["m.onnx", "--sparsity", "enable", "-o", "e.engine"],
    );
    assert_eq!(r["builder"]["sparsity"], "enable");
    assert_real_engine(dir.path(), "e.engine", "fp32");
    let sc = sidecar(dir.path(), "e.engine");
    assert_eq!(
        sc["build_settings"]["sparse_weights"], true,
        "kSPARSE_WEIGHTS read back: {sc}"
    );
    assert_eq!(sc["pipeline"], serde_json::json!(["reparameterize"]));

    let r = build(
        dir.path(),
        &[
            "m.onnx",
            "--sparsity=force",
            "--fp16",
            "-o",
            "f.engine",
            "--emit-onnx",
            "pruned.onnx",
        ],
    );
    assert_real_engine(dir.path(), "f.engine", "fp16");
    let sc = sidecar(dir.path(), "f.engine");
    assert_eq!(sc["build_settings"]["sparse_weights"], true, "{sc}");
    assert_eq!(
        sc["pipeline"],
        serde_json::json!(["reparameterize", "prune-2:4", "fp16"]),
        "pruned before the FP16 pass: {sc}"
    );
    assert!(
        r["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("changes the model's outputs")),
        "{r}"
    );
    // What TensorRT parsed has the 2:4 pattern in every Conv weight with at least 4 input channels.
    let m = yolo_onnx::Model::load(dir.path().join("pruned.onnx")).unwrap();
    let mut checked = 0;
    for node in m.graph().nodes().iter().filter(|n| n.op_type == "Conv") {
        let Some(w) = m.graph().initializer_f32(&node.input[1]).unwrap() else {
            continue;
        };
        let dims = w.shape().to_vec();
        let values: Vec<f32> = w.iter().copied().collect();
        let layout = yolo_onnx::sparsity::Layout::along(&dims, 1);
        assert!(
            yolo_onnx::sparsity::is_2_4(&values, layout),
            "{}",
            node.input[1]
        );
        if dims[1] >= 4 {
            let nz = values.iter().filter(|v| **v != 0.0).count();
            assert!(
                nz * 2 <= values.len(),
                "{}: {nz} of {}",
                node.input[1],
                values.len()
            );
            checked += 1;
        }
    }
    assert!(checked > 5, "{checked} Conv weights checked");
}

#[test]
#[ignore = "needs TensorRT-RTX: TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and tools built with --features trt-sys/require-tensorrt-rtx"]
fn rtx_layer_info_without_a_gpu_is_refused_before_the_build() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "conv-bn", "m.onnx");
    // TensorRT-RTX builds here, but its engine inspector needs the engine deserialized, on a GPU.
    build_refused(
        dir.path(),
        &["m.onnx", "--exportLayerInfo=l.json", "-o", "refused.engine"],
        3,
        "trt-inspect ENGINE --export-layer-info FILE",
    );
    assert!(!dir.path().join("l.json").exists());
    build_refused(
        dir.path(),
        &[
            "m.onnx",
            "--dump-layer-info",
            "--dry-run",
            "-o",
            "refused.engine",
        ],
        3,
        "usable GPU",
    );
    // The engine built without it; the layer information is trt-inspect's job on a machine that runs it.
    build(
        dir.path(),
        &[
            "m.onnx",
            "--profiling-verbosity",
            "detailed",
            "-o",
            "m.engine",
        ],
    );
    let o = rtx_cmd(&inspect_bin(), dir.path())
        .args(["m.engine", "--export-layer-info", "l.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--export-layer-info needs TensorRT and a GPU"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("l.json").exists());
}

#[test]
#[ignore = "needs a GPU TensorRT-RTX supports (compute capability 7.5, 8.x or 12.x), TRT_TEST_RTX_LIB, TRT_TEST_CUDART_DIR and the RTX build"]
fn gpu_rtx_layer_info_is_dumped_exported_and_matches_trt_inspect() {
    let dir = tempfile::tempdir().unwrap();
    common::sample(dir.path(), "conv-bn", "m.onnx");
    let r = build(
        dir.path(),
        &[
            "m.onnx",
            "--compute-capability",
            "current",
            "--dumpLayerInfo",
            "--exportLayerInfo=l.json",
            "-o",
            "m.engine",
        ],
    );
    // Detailed verbosity was set for the inspector: layers are objects with their parameters, not bare names.
    assert_eq!(r["builder"]["profiling_verbosity"], "detailed", "{r}");
    let layers = r["layer_info"]["Layers"]
        .as_array()
        .expect("the inspector's Layers");
    assert!(!layers.is_empty(), "{r}");
    assert!(layers.iter().all(|l| l["Name"].is_string()), "{r}");
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("l.json")).unwrap()).unwrap();
    assert_eq!(exported, r["layer_info"]);
    assert_eq!(r["layer_info_file"], "l.json");
    // trt-inspect writes the same information for the engine on this machine.
    let o = rtx_cmd(&inspect_bin(), dir.path())
        .args(["m.engine", "--export-layer-info", "l2.json"])
        .output()
        .unwrap();
    assert_ok(&o);
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("l2.json")).unwrap())
            .unwrap();
    assert_eq!(again, exported);
}
