//! The built `libnvds_yolo_parser.so`, called from C++ the way Gst-nvinfer calls it (tests/harness.cpp), on the real
//! output tensors of the generated YOLOv7 (`--grid`), YOLOv9 and YOLOv9 dual-head samples run on the CPU executor —
//! compared box for box with `yolo-rt`'s own decode of the same tensors.

use std::path::{Path, PathBuf};
use std::process::Command;

use yolo_onnx::exec::{make_inputs, ExecOptions, Executor, InputKind};
use yolo_rt::decode::{DecodeConfig, Decoder, OutputInfo};
use yolo_rt::tensor::{TensorData, TensorView};

/// The cdylib cargo built with the tests: beside the test binary in `deps/` (`cargo test`), or one level up
/// (`cargo build`).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let candidates = [
        deps.join("libnvds_yolo_parser.so"),
        deps.parent().unwrap().join("libnvds_yolo_parser.so"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{candidates:?} are missing: cargo builds the cdylib with the tests")
        })
        .clone()
}

/// Compiles the harness with the system C++ compiler (`$CXX`, else `c++`).
fn harness(dir: &Path) -> PathBuf {
    let out = dir.join("harness");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness.cpp");
    let o = Command::new(&cxx)
        .args(["-std=c++14", "-O1", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| panic!("running {cxx}: {e} (a C++ compiler is needed for this test)"));
    assert!(
        o.status.success(),
        "compiling the harness: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// One output as the engine would produce it: name, full shape (batch first), f32 data.
struct Output {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn run_sample(kind: &str, seed: u64) -> (Vec<Output>, (usize, usize)) {
    let model = yolo_onnx::testgen::sample(kind, 3).unwrap();
    let exec = Executor::new(&model, &ExecOptions::default()).unwrap();
    let input = &exec.inputs()[0];
    let net = (input.shape[3], input.shape[2]);
    let outs = exec
        .run(&make_inputs(exec.inputs(), InputKind::Image, seed).unwrap())
        .unwrap();
    let outs = outs
        .into_iter()
        .map(|(name, v)| {
            let a = v.to_f32();
            Output {
                name,
                shape: a.shape().to_vec(),
                data: a.iter().copied().collect(),
            }
        })
        .collect();
    (outs, net)
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Box5 {
    class_id: u32,
    ltwh: [f32; 4],
    confidence: f32,
}

/// Runs the harness; `half` feeds the layers as HALF. Returns the boxes, or the exit code and stderr.
fn call(
    dir: &Path,
    exe: &Path,
    outputs: &[Output],
    net: (usize, usize),
    classes: usize,
    thresholds: &[f32],
    half: bool,
) -> Result<Vec<Box5>, (i32, String)> {
    let mut spec = format!("net {} {} 3\nclasses {classes}\nthresholds", net.0, net.1);
    for t in thresholds {
        spec.push_str(&format!(" {t}"));
    }
    spec.push('\n');
    for (i, o) in outputs.iter().enumerate() {
        let file = dir.join(format!("layer{i}.bin"));
        let bytes: Vec<u8> = if half {
            o.data
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect()
        } else {
            o.data.iter().flat_map(|v| v.to_le_bytes()).collect()
        };
        std::fs::write(&file, bytes).unwrap();
        // nvinfer's inferDims leave the batch out.
        let dims = &o.shape[1..];
        spec.push_str(&format!(
            "layer {} {} {} {} {}\n",
            o.name,
            if half { 1 } else { 0 },
            dims.len(),
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            file.display()
        ));
    }
    let spec_path = dir.join("spec.txt");
    std::fs::write(&spec_path, spec).unwrap();
    let o = Command::new(exe)
        .arg(library())
        .arg(&spec_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    if o.status.code() != Some(0) {
        return Err((o.status.code().unwrap_or(-1), stderr));
    }
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f[0], "box", "{l}");
            let n = |i: usize| f[i].parse::<f32>().unwrap();
            Box5 {
                class_id: f[1].parse().unwrap(),
                ltwh: [n(2), n(3), n(4), n(5)],
                confidence: n(6),
            }
        })
        .collect())
}

/// yolo-rt's decode of the same tensors: candidates at or above each class's threshold, clipped to the network input,
/// as left/top/width/height.
fn reference(outputs: &[Output], net: (usize, usize), thresholds: &[f32], half: bool) -> Vec<Box5> {
    let infos: Vec<OutputInfo> = outputs
        .iter()
        .map(|o| OutputInfo {
            name: o.name.clone(),
            shape: o.shape.clone(),
        })
        .collect();
    let config = DecodeConfig {
        conf: 0.0,
        ..Default::default()
    };
    let mut d = Decoder::new(config, &infos, net).unwrap();
    let halves: Vec<Vec<half::f16>> = outputs
        .iter()
        .map(|o| o.data.iter().map(|&v| half::f16::from_f32(v)).collect())
        .collect();
    let views: Vec<TensorView<'_>> = outputs
        .iter()
        .zip(&halves)
        .map(|(o, h)| {
            let data = if half {
                TensorData::F16(h)
            } else {
                TensorData::F32(&o.data)
            };
            TensorView::new(&o.name, &o.shape, data).unwrap()
        })
        .collect();
    d.candidates(&views, 0).unwrap();
    let (w, h) = (net.0 as f32, net.1 as f32);
    d.last_candidates()
        .iter()
        .filter(|c| c.score >= thresholds[c.class_id as usize])
        .filter_map(|c| {
            let [x1, y1, x2, y2] = c.bbox;
            let (x1, y1, x2, y2) = (
                x1.clamp(0.0, w),
                y1.clamp(0.0, h),
                x2.clamp(0.0, w),
                y2.clamp(0.0, h),
            );
            (x2 > x1 && y2 > y1).then_some(Box5 {
                class_id: c.class_id,
                ltwh: [x1, y1, x2 - x1, y2 - y1],
                confidence: c.score,
            })
        })
        .collect()
}

#[test]
fn the_parser_returns_what_yolo_rt_decodes_for_v7_v9_and_dual_head_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let exe = harness(dir.path());
    let thresholds = [0.3f32, 0.4, 0.5, 0.6];
    for (kind, layouts) in [("yolov7-tiny", 1), ("yolov9", 1), ("yolov9-dual", 2)] {
        let (outputs, net) = run_sample(kind, 4);
        assert_eq!(outputs.len(), layouts, "{kind}");
        for half in [false, true] {
            let got = call(dir.path(), &exe, &outputs, net, 4, &thresholds, half)
                .unwrap_or_else(|(c, e)| panic!("{kind}: harness exit {c}: {e}"));
            let want = reference(&outputs, net, &thresholds, half);
            assert!(
                !want.is_empty(),
                "{kind}: the sample's outputs give candidates"
            );
            assert_eq!(got, want, "{kind} (half {half})");
            // The per-class thresholds filtered something: some candidates pass the lowest threshold only.
            let lowest = reference(&outputs, net, &[0.3; 4], half);
            assert!(
                lowest.len() > got.len(),
                "{kind}: {} vs {}",
                lowest.len(),
                got.len()
            );
            assert!(got
                .iter()
                .all(|b| b.confidence >= thresholds[b.class_id as usize]));
            assert!(got
                .iter()
                .all(|b| b.ltwh[0] >= 0.0 && b.ltwh[0] + b.ltwh[2] <= net.0 as f32 + 1e-3));
        }
    }
}

#[test]
fn what_cannot_be_decoded_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let exe = harness(dir.path());
    let (outputs, net) = run_sample("yolov9", 5);
    // num-detected-classes that differs from the model's.
    let (code, err) = call(dir.path(), &exe, &outputs, net, 3, &[0.3; 3], false).unwrap_err();
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("num-detected-classes=3") && err.contains("4 classes"),
        "{err}"
    );
    // An output that is no known layout.
    let odd = vec![Output {
        name: "feature".into(),
        shape: vec![1, 7, 5, 5],
        data: vec![0.5; 175],
    }];
    let (code, err) = call(dir.path(), &exe, &odd, net, 4, &[0.3; 4], false).unwrap_err();
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("nvds-yolo-parser:"), "{err}");
}
