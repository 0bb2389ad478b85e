//! Calibration throughput on a YOLO-style model at 640×640, against onnxruntime's calibration tools.
//!
//! `cargo bench -p yolo-onnx --bench calib_bench` builds the fused YOLOv7-sized graph at 640 px (≈ 36.9 M parameters,
//! `trt-onnx sample --kind yolov7-sized`; `CALIB_BENCH_PARAMS` to change), streams `CALIB_BENCH_SAMPLES` (default 8;
//! the README's figures use 64) image-like inputs through [`yolo_onnx::quant::Collector`] (every activation, min/max +
//! 2048-bin histograms) and times the min/max and entropy thresholds, once per CPU executor (tract, and onnxruntime
//! when `ORT_DYLIB_PATH` or the loader path has it; `CALIB_BENCH_EXECUTORS=tract,onnxruntime` to choose) and thread
//! count (`CALIB_BENCH_THREADS`, comma-separated; default 1 and [`yolo_onnx::quant::default_threads`]), checking that
//! the statistics are identical for every thread count of an executor. It then runs `benches/calib_ort.py` (python3
//! or `$PYTHON`; needs `pip install onnxruntime onnx numpy`) on the same model and inputs — onnxruntime's
//! `create_calibrator` with MinMax and Entropy, with the same number of intra-op threads — and prints images/s of both
//! and the ratio per executor and thread count. Without Python or onnxruntime the peer is reported missing.
//! `cargo test --benches` runs a small smoke version (128 px model, 2 samples, no peer).

use std::process::Command;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use yolo_onnx::exec::{image_like, Backend};
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
            testgen::yolov7_sized(env("CALIB_BENCH_PARAMS", 36_900_000), 1),
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

    // Thread counts compared: 1 and the collector's default (the available cores, at most 8), or CALIB_BENCH_THREADS
    // (comma-separated). onnxruntime gets the same number of intra-op threads in each row.
    let threads: Vec<usize> = match std::env::var("CALIB_BENCH_THREADS") {
        Ok(v) => v
            .split(',')
            .filter_map(|t| t.trim().parse().ok())
            .filter(|&t| t > 0)
            .collect(),
        Err(_) => {
            let mut t = vec![1, quant::default_threads()];
            t.dedup();
            t
        }
    };
    let backends: Vec<Backend> = match std::env::var("CALIB_BENCH_EXECUTORS") {
        Ok(v) => v
            .split(',')
            .map(|b| Backend::parse(b).expect("CALIB_BENCH_EXECUTORS"))
            .collect(),
        Err(_) => {
            let mut b = vec![Backend::Tract];
            match yolo_onnx::exec::onnxruntime_status() {
                Ok(_) => b.push(Backend::OnnxRuntime),
                Err(e) => println!("onnxruntime executor not measured: {e}"),
            }
            b
        }
    };
    let plan = quant::qdq::plan(&model, &Default::default()).expect("plan");
    let mut rust = Vec::new();
    for &backend in &backends {
        let mut reference: [Option<quant::Statistics>; 2] = [None, None];
        for &th in &threads {
            let s_th = if th == 1 { "" } else { "s" };
            // Min/max needs only the exact extremes (like onnxruntime's MinMax calibrator); entropy needs the
            // 2048-bin histograms. Each is a separate collection, as on the onnxruntime side.
            let mut per = [0.0f64; 2];
            for (k, bins) in [0, quant::hist::DEFAULT_BINS].into_iter().enumerate() {
                let t = Instant::now();
                let mut c =
                    Collector::with_backend(&model, bins, None, backend).expect("collector");
                c.set_threads(th).expect("threads");
                let prepare = t.elapsed().as_secs_f64();
                // One warm-up sample, not timed (tract plans lazily).
                c.add(&samples[0]).expect("warm-up");
                let (run0, hist0) = c.timings();
                let t = Instant::now();
                c.add_batch(&samples).expect("calibration run");
                let (run_s, hist_s) = c.timings();
                let (run_s, hist_s) = (run_s - run0, hist_s - hist0);
                let stats = c.finish().expect("stats");
                let collect = t.elapsed().as_secs_f64();
                // Thresholds as `quantize` computes them (spread over the available cores).
                let algorithm = if bins == 0 {
                    Algorithm::MinMax
                } else {
                    Algorithm::Entropy
                };
                let t = Instant::now();
                let thresholds = quant::scales(&stats, algorithm, &plan);
                let t_search = t.elapsed().as_secs_f64();
                assert_eq!(thresholds.len(), stats.tensors.len());
                // The statistics do not depend on the thread count.
                match &reference[k] {
                    None => reference[k] = Some(stats.clone()),
                    Some(r) => assert!(
                        r.order == stats.order
                            && r.tensors.iter().all(|(k, h)| stats.tensors[k] == *h),
                        "statistics differ between thread counts"
                    ),
                }
                per[k] = n as f64 / (collect + t_search);
                let elements: u64 = stats.tensors.values().map(|h| h.count()).sum();
                println!(
                "Rust ({backend}, {th} thread{s_th}) {} calibration at {size}x{size}, {} tensors, {n} samples \
                 (prepare {prepare:.2} s): {:.2} images/s; per image: inference with all activations exposed \
                 {:.3} s, {} {:.3} s ({:.1} M values), {} {t_search:.3} s in all",
                algorithm.name(),
                stats.tensors.len(),
                per[k],
                run_s / n as f64,
                if bins == 0 { "min/max" } else { "histograms" },
                hist_s / n as f64,
                elements as f64 / (n + 1) as f64 / 1e6,
                if bins == 0 { "thresholds" } else { "entropy search" },
            );
            }
            rust.push((backend, th, per[0], per[1]));
        }
    }
    // Plain FP32 inference (no activations exposed, one thread), for the split of the cost.
    let plain = yolo_onnx::exec::Executor::new(&model, &Default::default()).expect("executor");
    let feed = |s: &ndarray::ArrayD<f32>| {
        vec![(
            yolo_onnx::testgen::INPUT.to_string(),
            yolo_onnx::exec::TensorValue::F32(s.clone()),
        )]
    };
    plain.run(&feed(&samples[0])).expect("warm-up");
    let t = Instant::now();
    for s in &samples {
        plain.run(&feed(s)).expect("inference");
    }
    println!(
        "  plain FP32 inference (1 thread): {:.3} s per image",
        t.elapsed().as_secs_f64() / n as f64
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
    let mut done = Vec::new();
    for &(_, th, ..) in &rust {
        if done.contains(&th) {
            continue;
        }
        done.push(th);
        let ours: Vec<_> = rust
            .iter()
            .filter(|r| r.1 == th)
            .map(|r| (r.0, r.2, r.3))
            .collect();
        peer(&python, script, &mpath, &spath, th, &ours);
    }
}

/// Runs the onnxruntime peer with `threads` intra-op threads and prints its numbers and the ratios of each of `ours`
/// (executor, min/max images/s, entropy images/s).
fn peer(
    python: &str,
    script: &str,
    mpath: &std::path::Path,
    spath: &std::path::Path,
    threads: usize,
    ours: &[(Backend, f64, f64)],
) {
    let out = Command::new(python)
        .arg(script)
        .arg(mpath)
        .arg(spath)
        .arg(threads.to_string())
        .output();
    let s_th = if threads == 1 { "" } else { "s" };
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
                "onnxruntime {} calibrate ({threads} thread{s_th}), {} tensors: min/max {om:.2} images/s, entropy {oe:.2} images/s",
                v["ort"], v["tensors"]
            );
            for &(backend, mm, en) in ours {
                println!(
                    "ratio Rust ({backend}) / onnxruntime calibrate at {threads} thread{s_th}: min/max {:.2}x, entropy {:.2}x (target >= 1.5x)",
                    mm / om,
                    en / oe
                );
            }
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
