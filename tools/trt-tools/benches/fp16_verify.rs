//! Benchmark: `trt-onnx fp16` (range probe, conversion, FP16 check) against `trt-onnx verify` (the FP32 check) of the
//! same fused yolov7-sized model (~36.9 M parameters, 640×640), measured in the same run, alternating, on the built
//! binaries. Target (issue 14): the whole FP16 command costs at most 2× the FP32 verification.
//!
//! Run with `cargo bench -p trt-tools --bench fp16_verify` (release binaries). Prints the median of each side and the
//! ratio. `cargo test --benches` runs one round.

mod common;

use common::{median, run};

const ROUNDS: usize = 3;
const TARGET_RATIO: f64 = 2.0;

fn main() {
    let rounds = if std::env::args().any(|a| a == "--bench") {
        ROUNDS
    } else {
        1
    };
    let exe = env!("CARGO_BIN_EXE_trt-onnx");
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    run(
        exe,
        d,
        &[],
        &["sample", "--kind", "yolov7-sized", "-o", "s.onnx"],
    );
    run(
        exe,
        d,
        &[],
        &["fuse", "s.onnx", "-o", "f.onnx", "--no-verify"],
    );
    let (mut fp32, mut fp16) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        fp32.push(run(exe, d, &[], &["verify", "f.onnx", "f.onnx"]));
        fp16.push(run(exe, d, &[], &["fp16", "f.onnx", "-o", "h.onnx"]));
    }
    let (a, b) = (median(fp32), median(fp16));
    let ratio = b.as_secs_f64() / a.as_secs_f64();
    println!("yolov7-sized, {rounds} round(s), median:");
    println!("  trt-onnx verify f.onnx f.onnx (FP32 check)      {a:>8.2?}");
    println!("  trt-onnx fp16 f.onnx (probe + convert + check)   {b:>8.2?}");
    println!(
        "  ratio fp16 / fp32-verify                         {ratio:>8.2}x (target ≤ {TARGET_RATIO:.2}x: {})",
        if ratio <= TARGET_RATIO { "met" } else { "NOT met" }
    );
}
