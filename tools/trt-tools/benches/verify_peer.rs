//! Benchmark: the cost of `trt-onnx fuse`'s numerical check (what `trt-build`'s pipeline check runs) of the
//! yolov7-sized sample (~36.9 M parameters, 640×640), against what onnxruntime needs to run the unfused and the fused
//! graph once each on the same inputs (`benches/verify_ort.py`: both sessions created, each run on two inputs as the
//! check does; python3 or `$PYTHON` with `pip install onnxruntime numpy`), measured in the same run. Target (issue 16):
//! ≤ 1.5× the peer. The peer's figure for one input is printed too.
//!
//! The check's cost is `trt-onnx fuse s.onnx` minus `trt-onnx fuse s.onnx --no-verify` (the median of each over the
//! rounds, alternating), once per CPU executor: tract, and onnxruntime when `ORT_DYLIB_PATH` (or the loader path)
//! has it. The check runs both graphs on two inputs (random, image-like); the peer gets as many intra-op threads as
//! the machine has cores, like the check's onnxruntime sessions.
//!
//! Run with `cargo bench -p trt-tools --bench verify_peer`. `cargo test --benches` runs one round without the peer.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

use common::{median, run};

const ROUNDS: usize = 3;
const TARGET_RATIO: f64 = 1.5;

fn peer(dir: &Path, threads: usize, inputs: usize) -> Option<(f64, f64, String)> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/verify_ort.py");
    let o = Command::new(&python)
        .current_dir(dir)
        .args([
            script,
            "s.onnx",
            "f.onnx",
            &threads.to_string(),
            &inputs.to_string(),
        ])
        .output();
    match o {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_str(
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or(""),
            )
            .expect("peer JSON");
            Some((
                v["total_s"].as_f64()?,
                v["run_s"].as_f64()?,
                v["ort"].as_str().unwrap_or("?").to_string(),
            ))
        }
        Ok(o) => {
            println!(
                "onnxruntime peer failed (pip install onnxruntime numpy): {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            None
        }
        Err(e) => {
            println!("onnxruntime peer not run: {python}: {e}");
            None
        }
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { ROUNDS } else { 1 };
    let exe = env!("CARGO_BIN_EXE_trt-onnx");
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let kind = if full { "yolov7-sized" } else { "yolov7-tiny" };
    run(
        exe,
        d,
        &[("YOLO_ONNX_EXECUTOR", "tract")],
        &["sample", "--kind", kind, "-o", "s.onnx"],
    );
    run(
        exe,
        d,
        &[("YOLO_ONNX_EXECUTOR", "tract")],
        &["fuse", "s.onnx", "-o", "f.onnx", "--no-verify"],
    );
    let mut executors = vec!["tract"];
    match yolo_onnx::exec::onnxruntime_status() {
        Ok(_) => executors.push("onnxruntime"),
        Err(e) => println!("onnxruntime executor not measured: {e}"),
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut peer_total, mut peer_run, mut peer_one, mut version) =
        (Vec::new(), Vec::new(), Vec::new(), None);
    let mut ours: Vec<(&str, Vec<Duration>, Vec<Duration>)> = executors
        .iter()
        .map(|&e| (e, Vec::new(), Vec::new()))
        .collect();
    for _ in 0..rounds {
        for (executor, with, without) in &mut ours {
            with.push(run(
                exe,
                d,
                &[("YOLO_ONNX_EXECUTOR", executor)],
                &["fuse", "s.onnx", "-o", "g.onnx"],
            ));
            without.push(run(
                exe,
                d,
                &[("YOLO_ONNX_EXECUTOR", executor)],
                &["fuse", "s.onnx", "-o", "h.onnx", "--no-verify"],
            ));
            for f in ["g.onnx", "h.onnx"] {
                std::fs::remove_file(d.join(f)).expect("remove the output");
            }
        }
        if full {
            if let Some((t, r, v)) = peer(d, threads, 2) {
                peer_total.push(Duration::from_secs_f64(t));
                peer_run.push(Duration::from_secs_f64(r));
                version = Some(v);
            }
            if let Some((t, _, _)) = peer(d, threads, 1) {
                peer_one.push(Duration::from_secs_f64(t));
            }
        }
    }
    println!("{kind}, {rounds} round(s), median:");
    let peer_figures = version.map(|v| (median(peer_total), median(peer_run), v));
    if let Some((t, r, v)) = &peer_figures {
        println!(
            "  onnxruntime {v} ({threads} thread(s)): create + run unfused and fused on the 2 inputs  {t:>8.2?} (runs alone {r:>8.2?})"
        );
        if !peer_one.is_empty() {
            println!(
                "  onnxruntime, the same on 1 input                                  {:>8.2?}",
                median(peer_one)
            );
        }
    }
    for (executor, with, without) in ours {
        let (w, wo) = (median(with), median(without));
        let check = w.saturating_sub(wo);
        println!(
            "  trt-onnx fuse ({executor}): with check {w:>8.2?}, --no-verify {wo:>8.2?}: check {check:>8.2?}"
        );
        if let Some((t, _, _)) = &peer_figures {
            let ratio = check.as_secs_f64() / t.as_secs_f64();
            println!(
                "  ratio check ({executor}) / onnxruntime                   {ratio:>8.2}x (target ≤ {TARGET_RATIO:.2}x: {})",
                if ratio <= TARGET_RATIO { "met" } else { "NOT met" }
            );
        }
    }
}
