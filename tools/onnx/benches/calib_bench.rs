//! Calibration throughput on a YOLO-style model at 640×640, against onnxruntime's calibration tools.
//!
//! `cargo bench -p yolo-onnx --bench calib_bench` builds a fused YOLOv7-like graph at 640 px (≈ 2.5 M parameters;
//! `CALIB_BENCH_PARAMS` to change), streams `CALIB_BENCH_SAMPLES` (default 8) image-like inputs through
//! [`yolo_onnx::quant::Collector`] (every activation, min/max + 2048-bin histograms) and times the min/max and entropy
//! thresholds. It then runs `benches/calib_ort.py` (python3 or `$PYTHON`; needs `pip install onnxruntime onnx
//! numpy`) on the same model and inputs — onnxruntime's `create_calibrator` with MinMax and Entropy, one thread like
//! tract — and prints images/s of both and the ratio. Without Python or onnxruntime the peer is reported missing.
//! `cargo test --benches` runs a small smoke version (128 px model, 2 samples, no peer).

use std::process::Command;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use yolo_onnx::exec::image_like;
use yolo_onnx::quant::{self, Algorithm, Collector};
use yolo_onnx::{fuse, testgen, FuseOptions, Model};

fn write_npy(path: &std::path::Path, shape: &[usize], data: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, out).expect("write samples");
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (mut model, size, n): (Model, usize, usize) = if full {
        (
            testgen::yolov7_sized(env("CALIB_BENCH_PARAMS", 2_500_000), 1),
            640,
            env("CALIB_BENCH_SAMPLES", 8),
        )
    } else {
        (testgen::yolov7_tiny_slice(4, 1), 128, 2)
    };
    fuse(&mut model, &FuseOptions::default()).expect("fuse");
    let shape = [1, 3, size, size];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let samples: Vec<_> = (0..n).map(|_| image_like(&shape, &mut rng)).collect();

    let t = Instant::now();
    let mut c = Collector::new(&model, quant::hist::DEFAULT_BINS).expect("collector");
    let prepare = t.elapsed().as_secs_f64();
    // One warm-up sample, not timed (tract plans lazily).
    c.add(&samples[0]).expect("warm-up");
    let t = Instant::now();
    for s in &samples {
        c.add(s).expect("calibration run");
    }
    let (run_s, hist_s) = c.timings();
    let stats = c.finish().expect("stats");
    let collect = t.elapsed().as_secs_f64();
    // Thresholds as `quantize` computes them (spread over the available cores).
    let plan = quant::qdq::plan(&model, &Default::default()).expect("plan");
    let t = Instant::now();
    let mm = quant::scales(&stats, Algorithm::MinMax, &plan);
    let t_mm = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // The smoke run (debug build) skips the entropy search: ~0.3 s per tensor unoptimized.
    let en = if full {
        quant::scales(&stats, Algorithm::Entropy, &plan)
    } else {
        mm.clone()
    };
    let t_en = t.elapsed().as_secs_f64();
    assert_eq!(mm.len(), en.len());
    // Plain FP32 inference (no activations exposed), for the split of the cost.
    let plain = yolo_onnx::exec::Executor::new(&model, &Default::default()).expect("executor");
    let feed = vec![(
        yolo_onnx::testgen::INPUT.to_string(),
        yolo_onnx::exec::TensorValue::F32(samples[0].clone()),
    )];
    plain.run(&feed).expect("warm-up");
    let t = Instant::now();
    for s in &samples {
        let feed = vec![(
            yolo_onnx::testgen::INPUT.to_string(),
            yolo_onnx::exec::TensorValue::F32(s.clone()),
        )];
        plain.run(&feed).expect("inference");
    }
    let plain_s = t.elapsed().as_secs_f64() / n as f64;
    let rust_mm = n as f64 / (collect + t_mm);
    let rust_en = n as f64 / (collect + t_en);
    let entropy = if full {
        format!(
            "entropy {rust_en:.2} images/s (entropy search {t_en:.2} s on {} threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )
    } else {
        "entropy skipped (smoke run)".to_string()
    };
    println!(
        "Rust (tract, 1 thread) calibration at {size}x{size}, {} tensors, {n} samples (prepare {:.2} s): \
         min/max {rust_mm:.2} images/s, {entropy}",
        stats.tensors.len(),
        prepare,
    );
    println!(
        "  per image: model with all activations exposed {:.3} s, histograms {:.3} s; plain FP32 inference {:.3} s",
        run_s / (n + 1) as f64,
        hist_s / (n + 1) as f64,
        plain_s
    );
    if !full {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mpath = dir.path().join("model.onnx");
    model.save(&mpath).expect("save model");
    let spath = dir.path().join("samples.npy");
    let flat: Vec<f32> = samples.iter().flat_map(|s| s.iter().copied()).collect();
    write_npy(&spath, &[n, 3, size, size], &flat);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/calib_ort.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&mpath)
        .arg(&spath)
        .arg("1")
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let line = String::from_utf8_lossy(&o.stdout);
            let v: serde_json::Value =
                serde_json::from_str(line.trim().lines().last().unwrap_or("")).expect("peer JSON");
            let (om, oe) = (
                v["minmax_images_per_s"].as_f64().unwrap(),
                v["entropy_images_per_s"].as_f64().unwrap(),
            );
            println!(
                "onnxruntime {} calibrate (1 thread), {} tensors: min/max {om:.2} images/s, entropy {oe:.2} images/s",
                v["ort"], v["tensors"]
            );
            println!(
                "ratio Rust / onnxruntime: min/max {:.2}x, entropy {:.2}x",
                rust_mm / om,
                rust_en / oe
            );
        }
        Ok(o) => println!(
            "onnxruntime peer failed (pip install onnxruntime onnx numpy): {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("onnxruntime peer not run: {python}: {e}"),
    }
}
