//! CPU benchmark: unfused vs fused latency on the CPU executor (tract) for RepConv-heavy graphs.
//!
//! Run with `cargo bench -p yolo-onnx --bench cpu_bench` (the same numbers as
//! `trt-onnx bench unfused.onnx fused.onnx`). The printed ratios are **CPU ratios**: on CPU an
//! exact re-parameterization is worth little (about 1.05–1.15x on YOLO slices with onnxruntime);
//! the 1.25–1.31x reported for TensorRT is a GPU effect (fewer kernels and memory passes) that a CPU
//! run does not predict.

use yolo_onnx::passes::{fuse, FuseOptions};
use yolo_onnx::testgen;
use yolo_onnx::verify::{bench, verify, VerifyOptions};
use yolo_onnx::Model;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a quick smoke run then.
    let full = std::env::args().any(|a| a == "--bench");
    let (iterations, warmup) = if full { (30, 5) } else { (2, 1) };
    let cases: Vec<(&str, Model)> = vec![
        (
            "repconv-bench (8 RepConv, 32 ch, 128 px)",
            testgen::repconv_bench_model(32, 8, 128, 1),
        ),
        (
            "yolov7-tiny slice (128 px)",
            testgen::yolov7_tiny_slice(4, 1),
        ),
        ("yolov9 slice (128 px)", testgen::yolov9_slice(4, 1)),
    ];
    println!("CPU (tract) latency, unfused vs fused; ratios are CPU ratios, not GPU/TensorRT ones");
    for (name, mut unfused) in cases {
        unfused.set_source_name("unfused");
        let mut fused = unfused.clone();
        fuse(&mut fused, &FuseOptions::default()).expect("fuse");
        fused.set_source_name("fused");
        let v = verify(&unfused, &fused, &VerifyOptions::default()).expect("verify");
        assert!(v.passed, "{name}: fused model differs: {}", v.to_text());
        let r = bench(&unfused, Some(&fused), iterations, warmup).expect("bench");
        println!(
            "{name:<42} unfused {:>8.3} ms  fused {:>8.3} ms  speedup {:.3}x (CPU)",
            r.a.median_ms,
            r.b.as_ref().map_or(0.0, |b| b.median_ms),
            r.speedup.unwrap_or(0.0)
        );
    }
}
