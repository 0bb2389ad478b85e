//! Helpers shared by the `trt-tools` integration tests: commands that find no TensorRT, output extraction, the
//! one-error-line failure check, generated sample models and the `reallib_` environment.
//!
//! Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};
use serde_json::Value;

/// A command running `exe` (a `CARGO_BIN_EXE_*` path) in `dir` with no TensorRT to find: `TRT_LIBRARY` names a
/// missing file, `CUDA_LIB_DIR` a missing directory and `TRT_YOLO_CACHE` an empty project cache (the scripts unpack
/// NVIDIA's wheels into the real one), so every probe fails the same way on any machine.
pub fn no_trt_cmd(exe: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut c = Command::new(exe);
    c.current_dir(dir)
        .env("TRT_LIBRARY", dir.join("no-tensorrt-here/libnvinfer.so.10"))
        .env("CUDA_LIB_DIR", dir.join("no-cuda-here"))
        .env("TRT_YOLO_CACHE", dir.join("no-cache-here"))
        .env_remove("TRT_LIB_DIR")
        .env_remove("RUST_LOG")
        .env_remove(trt_tools::TEST_PAUSE_ENV);
    c
}

/// The names of the ONNX pipeline steps in a `trt-build --json` report.
pub fn step_names(report: &Value) -> Vec<String> {
    report["pipeline"]
        .as_array()
        .expect("the report lists its pipeline")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Stdout of `o` as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr of `o` as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout of `o` parsed as JSON; panics showing stdout and stderr when it is not.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// Asserts that `o` exited with `code`, showing stderr when it did not.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(o));
}

/// Asserts that `o` succeeded (exit 0), showing stderr when it did not.
pub fn assert_ok(o: &Output) {
    assert_code(o, 0);
}

/// Asserts a failure of `program`: the exit code, no panic, and exactly one `<program>: error:` line, naming
/// `needle`.
pub fn assert_fails(o: &Output, program: &str, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "exactly one error line: {err}");
    assert!(
        lines[0].starts_with(&format!("{program}: error: ")),
        "{err}"
    );
    assert!(lines[0].contains(needle), "`{needle}` not in: {err}");
}

/// Writes the generated sample model `kind` (`yolo_onnx::testgen::sample`, seed 3) to `dir/name`.
pub fn sample(dir: &Path, kind: &str, name: &str) -> PathBuf {
    sample_seeded(dir, kind, name, 3)
}

/// Writes the generated sample model `kind` with `seed` to `dir/name`.
pub fn sample_seeded(dir: &Path, kind: &str, name: &str, seed: u64) -> PathBuf {
    let path = dir.join(name);
    yolo_onnx::testgen::sample(kind, seed)
        .unwrap()
        .save(&path)
        .unwrap();
    path
}

/// Writes `dir/name`: the generated `conv-bn` sample followed by `YoloMysteryOp` (domain `com.example.yolo`, node
/// `mystery`), an op the CPU executor lacks — as a custom plugin op in a real export.
pub fn custom_op_model(dir: &Path, name: &str) -> PathBuf {
    let src = sample(dir, "conv-bn", &format!("{name}.base.onnx"));
    let mut model = yolo_onnx::Model::load(&src).unwrap();
    let out = model.graph().outputs()[0].name.clone();
    let mut node =
        yolo_onnx::graph::make_node("YoloMysteryOp", "mystery", &[&out], &["post"], vec![]);
    node.domain = "com.example.yolo".into();
    model.graph_mut().add_node(node);
    model
        .graph_mut()
        .edit_proto(|g| g.output[0].name = "post".into());
    let path = dir.join(name);
    model.save(&path).unwrap();
    path
}

/// Copies the ONNX model `src` to `dst` with the dimensions `dims` of its first input, and every dimension of its
/// outputs, made dynamic (as `export(dynamic=True)` writes them).
pub fn make_dynamic(src: &Path, dst: &Path, dims: &[usize]) {
    use yolo_onnx::graph::{make_value_info, value_info_dims, value_info_elem_type, DataType};
    let mut model = yolo_onnx::Model::load(src).unwrap();
    model.graph_mut().edit_proto(|g| {
        let retype = |vi: &mut tract_onnx::pb::ValueInfoProto, dynamic: &dyn Fn(usize) -> bool| {
            let d: Vec<i64> = value_info_dims(vi)
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, d)| if dynamic(i) { -1 } else { d.unwrap_or(-1) })
                .collect();
            let elem = DataType::try_from(value_info_elem_type(vi).unwrap()).unwrap();
            *vi = make_value_info(&vi.name, elem, &d);
        };
        retype(&mut g.input[0], &|i| dims.contains(&i));
        for o in g.output.iter_mut() {
            retype(o, &|_| true);
        }
    });
    model.save(dst).unwrap();
}

/// The real TensorRT lean runtime and libcudart directory named by `TRT_TEST_LEAN_LIB` and `TRT_TEST_CUDART_DIR`;
/// fails loudly when either is unset or the library does not exist.
pub fn real_libs() -> (String, String) {
    let lean = std::env::var("TRT_TEST_LEAN_LIB")
        .expect("TRT_TEST_LEAN_LIB must name libnvinfer_lean.so.11");
    let cudart = std::env::var("TRT_TEST_CUDART_DIR")
        .expect("TRT_TEST_CUDART_DIR must name the libcudart directory");
    assert!(
        Path::new(&lean).is_file(),
        "TRT_TEST_LEAN_LIB={lean} does not exist"
    );
    (lean, cudart)
}

/// Points `c` at the real lean runtime and libcudart (see [`real_libs`]).
pub fn real_env(c: &mut Command) -> &mut Command {
    let (lean, cudart) = real_libs();
    c.env("TRT_LIBRARY", lean).env("CUDA_LIB_DIR", cudart)
}

/// Writes `bytes` as `dir/m.engine` with a sealed sidecar (TensorRT `trt_version`, Tesla T4, FP16, `pipeline`),
/// through the `trt` sidecar API; returns the engine path.
pub fn write_engine(
    dir: &Path,
    bytes: &[u8],
    trt_version: (u32, u32, u32),
    pipeline: &[&str],
) -> PathBuf {
    use trt::sidecar::*;
    let path = dir.join("m.engine");
    let (major, minor, patch) = trt_version;
    let mut sc = Sidecar::new(
        TensorRtInfo {
            version: trt::Version::new(major, minor, patch),
            version_compatible: false,
            hardware_compatibility: HardwareCompatibility::None,
            exclude_lean_runtime: false,
            compute_capabilities: Vec::new(),
        },
        GpuInfo {
            name: "Tesla T4".into(),
            compute_capability: ComputeCapability::new(7, 5),
        },
        Precision::Fp16,
    );
    sc.pipeline = pipeline.iter().map(|s| s.to_string()).collect();
    write_engine(&path, bytes, &mut sc).unwrap();
    path
}

/// `n` PNGs of assorted sizes with smooth colour gradients and blocks, some in a subdirectory.
pub fn calib_images(dir: &Path, n: usize, seed: u64) -> PathBuf {
    let root = dir.join("calib");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for i in 0..n {
        let (w, h) = (
            rng.random_range(60..200usize),
            rng.random_range(60..200usize),
        );
        let (a, b, c) = (
            rng.random_range(0..255u32),
            rng.random_range(1..5u32),
            rng.random_range(0..255u32),
        );
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let block = ((x / 16 + y / 16) % 2) as u32 * 60;
                data.push(((a + x as u32 * b) % 256) as u8);
                data.push(((c + y as u32 * b + block) % 256) as u8);
                data.push(((x * y) as u32 / 40 % 256) as u8);
            }
        }
        let img = yolo_rt::Image::from_raw(data, w, h, yolo_rt::PixelFormat::Rgb).unwrap();
        let sub = if i % 3 == 0 {
            root.join("sub")
        } else {
            root.clone()
        };
        img.save(sub.join(format!("img{i:02}.png"))).unwrap();
    }
    root
}

/// Parses `files` with Triton's ModelConfig schema (scripts/triton-config-check.py); returns the parsed messages as
/// JSON. Needs TRT_TEST_TRITON_PYTHONPATH (scripts/test.sh sources scripts/triton-schema.sh; the test log gate there
/// fails the run when no config was parsed). Without it the schema part is reported as skipped on stderr.
pub fn triton_schema_check(files: &[&Path]) -> Option<Vec<serde_json::Value>> {
    if std::env::var_os("TRT_TEST_TRITON_PYTHONPATH").is_none() {
        eprintln!("triton schema check skipped: TRT_TEST_TRITON_PYTHONPATH unset (scripts/test.sh sets it)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/triton-config-check.py");
    let o = Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "Triton's schema refused {files:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// Runs `cmd` with its stdout closed before the program writes (as `| grep -q` or `| head` do) and stderr captured.
pub fn run_with_closed_stdout(cmd: &mut Command) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// An engine file as Ultralytics' `yolo export format=engine` writes it: the length of its metadata JSON (4 bytes,
/// little-endian, signed), the JSON (`json.dumps` of its metadata dict: `names` keyed by id), then the engine.
pub fn ultralytics_engine(engine: &[u8], names: &[&str]) -> Vec<u8> {
    let names: serde_json::Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (i.to_string(), Value::from(*n)))
        .collect();
    let meta = serde_json::json!({
        "description": "Ultralytics YOLOv8n model trained on coco.yaml",
        "author": "Ultralytics",
        "version": "8.3.40",
        "stride": 32,
        "task": "detect",
        "batch": 1,
        "imgsz": [640, 640],
        "names": names,
        "args": {"batch": 1, "half": true, "dynamic": false},
    })
    .to_string();
    let mut f = (meta.len() as i32).to_le_bytes().to_vec();
    f.extend_from_slice(meta.as_bytes());
    f.extend_from_slice(engine);
    f
}
