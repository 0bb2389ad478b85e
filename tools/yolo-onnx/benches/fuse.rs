//! Benchmark: `trt-onnx fuse` work (load file → fuse → save file) on a generated YOLOv7-sized
//! graph (~36.9 M parameters, every Conv with a BatchNormalization, RepConv heads, implicit
//! layers). Target: under 2 s end to end on the 2-core CI machine.
//!
//! Run with `cargo bench -p yolo-onnx --bench fuse`. Prints the median of a few runs per stage.

use std::time::{Duration, Instant};

use yolo_onnx::passes::{fuse, FuseOptions, PatternKind};
use yolo_onnx::testgen::yolov7_sized;
use yolo_onnx::Model;

const RUNS: usize = 5;
const TARGET: Duration = Duration::from_secs(2);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run once then.
    let runs = if std::env::args().any(|a| a == "--bench") {
        RUNS
    } else {
        1
    };
    let t = Instant::now();
    let model = yolov7_sized(36_900_000, 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("yolov7_sized.onnx");
    let dst = dir.path().join("yolov7_sized.fused.onnx");
    model.save(&src).expect("save source model");
    let size = std::fs::metadata(&src).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated yolov7-sized graph: {} nodes, {:.1} M params, {:.1} MB on disk ({:.2?})",
        model.graph().nodes().len(),
        model
            .graph()
            .initializers()
            .iter()
            .map(|t| t.dims.iter().product::<i64>())
            .sum::<i64>() as f64
            / 1e6,
        size as f64 / 1e6,
        t.elapsed()
    );
    drop(model);

    let (mut load, mut fz, mut save, mut total) = (vec![], vec![], vec![], vec![]);
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut m = Model::load(&src).expect("load");
        let t1 = Instant::now();
        let report = fuse(&mut m, &FuseOptions::default()).expect("fuse");
        let t2 = Instant::now();
        m.save(&dst).expect("save");
        let t3 = Instant::now();
        load.push(t1 - t0);
        fz.push(t2 - t1);
        save.push(t3 - t2);
        total.push(t3 - t0);
        last = Some(report);
    }
    let report = last.expect("at least one run");
    println!(
        "fused: conv+bn {} repconv {} implicit-a {} implicit-m {}; nodes {} -> {}, params {} -> {}, refusals {}",
        report.count(PatternKind::ConvBn).fused,
        report.count(PatternKind::RepConv).fused,
        report.count(PatternKind::ImplicitA).fused,
        report.count(PatternKind::ImplicitM).fused,
        report.before.nodes,
        report.after.nodes,
        report.before.params,
        report.after.params,
        report.refusals.len()
    );
    let total = median(total);
    println!(
        "median of {runs}: load {:.2?}, fuse {:.2?}, save {:.2?}",
        median(load),
        median(fz),
        median(save)
    );
    println!(
        "fuse end to end (load + fuse + save): {total:.2?} — {:.2}x the 2 s target ({})",
        total.as_secs_f64() / TARGET.as_secs_f64(),
        if total < TARGET {
            "within target"
        } else {
            "OVER TARGET"
        }
    );
}
