//! `trt-bench`: statistics against hand-computed values, ratios, warnings, the JSON schemas, and clean argument /
//! input / missing-TensorRT errors. Runs without TensorRT or a GPU; `reallib_` tests use the real lean runtime.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use trt_tools::bench::compare::{self, CompareReport};
use trt_tools::bench::report::{self, Report, Sample, Settings, Timings};
use trt_tools::bench::stats::{self, Summary, WarningInputs};

mod common;

/// A `trt-bench` command in `dir` with no TensorRT to find (see [`common::no_trt_cmd`]).
fn cmd(dir: &Path) -> Command {
    common::no_trt_cmd(env!("CARGO_BIN_EXE_trt-bench"), dir)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

// ---- statistics against known inputs ----

#[test]
fn summary_of_one_to_ten() {
    // Shuffled 1..=10 ms.
    let v = [7.0, 3.0, 10.0, 1.0, 5.0, 9.0, 2.0, 8.0, 6.0, 4.0];
    let s = stats::summarize(&v, &[50.0, 90.0, 95.0, 99.0, 0.0, 100.0]).unwrap();
    assert_eq!(s.count, 10);
    assert_eq!((s.min, s.max), (1.0, 10.0));
    assert!(close(s.mean, 5.5));
    // Even count: mean of the 5th and 6th sorted samples.
    assert!(close(s.median, 5.5));
    // Population variance of 1..=10 is (10² − 1) / 12 = 8.25.
    assert!(close(s.std_dev, 8.25f64.sqrt()));
    assert!(close(s.cov_percent, 8.25f64.sqrt() / 5.5 * 100.0));
    // Nearest rank: ceil(p/100 · 10): p50 → 5th, p90 → 9th, p95/p99 → 10th, p0 → 1st, p100 → 10th.
    let got: Vec<f64> = s.percentiles.iter().map(|p| p.value).collect();
    assert_eq!(got, vec![5.0, 9.0, 10.0, 10.0, 1.0, 10.0]);
}

#[test]
fn median_odd_and_percentiles_of_large_series() {
    let s = stats::summarize(&[3.0, 1.0, 2.0], &[50.0]).unwrap();
    assert_eq!(s.median, 2.0);
    assert_eq!(s.percentiles[0].value, 2.0); // ceil(1.5) = rank 2
                                             // 1000 samples 0.001..=1.000: p99.9 → rank 999, p99 → rank 990.
    let v: Vec<f64> = (1..=1000).map(|i| f64::from(i) / 1000.0).collect();
    let s = stats::summarize(&v, &[99.9, 99.0, 90.0]).unwrap();
    let got: Vec<f64> = s.percentiles.iter().map(|p| p.value).collect();
    assert_eq!(got, vec![0.999, 0.990, 0.900]);
}

#[test]
fn bad_samples_are_errors_not_panics() {
    assert_eq!(
        stats::summarize(&[], &[90.0]).unwrap_err(),
        stats::StatsError::Empty
    );
    assert!(matches!(
        stats::summarize(&[1.0, f64::NAN], &[90.0]).unwrap_err(),
        stats::StatsError::BadSample { index: 1, .. }
    ));
    assert!(matches!(
        stats::summarize(&[1.0], &[120.0]).unwrap_err(),
        stats::StatsError::BadPercentile(_)
    ));
    assert_eq!(stats::throughput(500, 2.0), 250.0);
    assert_eq!(stats::throughput(5, 0.0), 0.0);
}

// ---- warnings from constructed inputs ----

fn constant(v: f64, n: usize) -> Summary {
    stats::summarize(&vec![v; n], &[90.0]).unwrap()
}

fn kinds(w: &[stats::Warning]) -> Vec<&str> {
    w.iter().map(|w| w.kind.as_str()).collect()
}

#[test]
fn warnings_fire_exactly_on_their_conditions() {
    // CoV of compute: nine 1.0 and one 1.5 → mean 1.05, population std 0.15 → 14.29 % > 2.5 %.
    let mut v = vec![1.0; 9];
    v.push(1.5);
    let unstable = stats::summarize(&v, &[90.0]).unwrap();
    assert!(close(unstable.cov_percent, 0.15 / 1.05 * 100.0));
    let w = stats::warnings(
        &WarningInputs {
            compute: Some(&unstable),
            ..Default::default()
        },
        2.5,
    );
    assert_eq!(kinds(&w), vec!["unstable"]);
    // The same series under a 20 % threshold is stable.
    assert!(stats::warnings(
        &WarningInputs {
            compute: Some(&unstable),
            ..Default::default()
        },
        20.0
    )
    .is_empty());

    let compute = constant(1.0, 20);
    // enqueue 0.9 ≥ 0.8 × 1.0 → enqueue-bound; 0.5 is not.
    let e_hi = constant(0.9, 20);
    let e_lo = constant(0.5, 20);
    let w = stats::warnings(
        &WarningInputs {
            enqueue: Some(&e_hi),
            compute: Some(&compute),
            ..Default::default()
        },
        2.5,
    );
    assert_eq!(kinds(&w), vec!["enqueue-bound"]);
    let w = stats::warnings(
        &WarningInputs {
            enqueue: Some(&e_lo),
            compute: Some(&compute),
            ..Default::default()
        },
        2.5,
    );
    assert!(w.is_empty(), "{w:?}");

    // H2D 0.6 + D2H 0.5 = 1.1 > compute 1.0 → transfer-bound; 0.3 + 0.3 is not.
    let (h, d) = (constant(0.6, 20), constant(0.5, 20));
    let w = stats::warnings(
        &WarningInputs {
            h2d: Some(&h),
            d2h: Some(&d),
            compute: Some(&compute),
            ..Default::default()
        },
        2.5,
    );
    assert_eq!(kinds(&w), vec!["transfer-bound"]);
    assert!(w[0].message.contains("1.1000"), "{}", w[0].message);
    let small = constant(0.3, 20);
    let w = stats::warnings(
        &WarningInputs {
            h2d: Some(&small),
            d2h: Some(&small),
            compute: Some(&compute),
            ..Default::default()
        },
        2.5,
    );
    assert!(w.is_empty());

    // Without GPU compute, the unstable check uses latency and says so; 5 samples are few.
    let lat = stats::summarize(&[1.0, 2.0, 3.0, 4.0, 5.0], &[90.0]).unwrap();
    let w = stats::warnings(
        &WarningInputs {
            latency: Some(&lat),
            ..Default::default()
        },
        2.5,
    );
    assert_eq!(kinds(&w), vec!["few-samples", "unstable"]);
    assert!(w[1].message.contains("not measured"));
}

// ---- ratios ----

fn settings() -> Settings {
    Settings {
        warmup_ms: 0,
        iterations: Some(4),
        duration_s: None,
        streams: 1,
        cuda_graph: false,
        data_transfers: true,
        percentiles: vec![90.0],
        shapes: vec![],
        inputs: "random".into(),
        end_to_end: None,
        times_format: None,
    }
}

fn report_of(engine: &str, latencies: &[f64], compute: Option<&[f64]>, wall_s: f64) -> Report {
    let samples = latencies
        .iter()
        .enumerate()
        .map(|(i, &l)| Sample {
            latency_ms: l,
            enqueue_ms: 0.01,
            compute_ms: compute.map(|c| c[i]),
            ..Sample::default()
        })
        .collect();
    let t = Timings {
        schema: report::TIMES_SCHEMA.into(),
        engine: engine.into(),
        batch: 1,
        streams: 1,
        wall_time_s: wall_s,
        gpu_compute_source: compute.map(|_| "events".into()),
        transfer_probe: None,
        samples,
    };
    report::analyze(&t, settings(), None, 2.5).unwrap()
}

#[test]
fn ratio_table_against_the_baseline() {
    let a = report_of("a.engine", &[10.0, 10.0, 10.0, 10.0], Some(&[8.0; 4]), 0.04); // 100 qps
    let b = report_of("b.engine", &[5.0, 5.0, 5.0, 5.0], Some(&[2.0; 4]), 0.02); // 200 qps
    let c = report_of("c.engine", &[20.0, 20.0, 20.0, 20.0], None, 0.08); // 50 qps
    let r = compare::ratios(&[a, b, c]);
    assert_eq!(r.len(), 3);
    assert!(
        close(r[0].latency_ratio, 1.0)
            && close(r[0].speedup, 1.0)
            && close(r[0].throughput_ratio, 1.0)
    );
    assert!(
        close(r[1].latency_ratio, 0.5)
            && close(r[1].speedup, 2.0)
            && close(r[1].throughput_ratio, 2.0)
    );
    assert!(close(r[1].gpu_compute_ratio.unwrap(), 0.25));
    assert!(
        close(r[2].latency_ratio, 2.0)
            && close(r[2].speedup, 0.5)
            && close(r[2].throughput_ratio, 0.5)
    );
    assert_eq!(r[2].gpu_compute_ratio, None);
    assert!(compare::ratios(&[]).is_empty());
}

#[test]
fn compare_json_schema_fields() {
    let a = report_of("a.engine", &[10.0; 4], None, 0.04);
    let b = report_of("b.engine", &[5.0; 4], None, 0.02);
    let c = CompareReport::new(vec![a, b], 10);
    let v: Value = serde_json::to_value(&c).unwrap();
    assert_eq!(v["schema"], "trt-bench-compare/1");
    assert_eq!(v["baseline"], "a.engine");
    assert_eq!(v["rounds"], 10);
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_eq!(v["runs"][1]["schema"], "trt-bench/1");
    for key in [
        "engine",
        "latency_median_ms",
        "throughput_qps",
        "gpu_compute_median_ms",
        "latency_ratio",
        "speedup",
        "throughput_ratio",
        "gpu_compute_ratio",
    ] {
        assert!(v["ratios"][1].get(key).is_some(), "ratios[1] lacks {key}");
    }
    assert_eq!(v["ratios"][1]["speedup"], 2.0);
    let text = c.to_text();
    assert!(
        text.contains("comparison (10 interleaved rounds; baseline a.engine)"),
        "{text}"
    );
}

// ---- the binary on recorded times (no GPU needed) ----

fn times_file(dir: &Path, name: &str, samples: Value, wall: f64, batch: usize) -> PathBuf {
    let p = dir.join(name);
    let doc = json!({
        "schema": "trt-bench-times/1",
        "engine": "yolo.engine",
        "batch": batch,
        "streams": 1,
        "wall_time_s": wall,
        "gpu_compute_source": "events",
        "samples": samples,
    });
    std::fs::write(&p, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    p
}

#[test]
fn import_times_json_schema_and_values() {
    let dir = tempfile::tempdir().unwrap();
    // latency 1..=10 ms, enqueue 0.9, compute nine 1.0 + one 1.5, H2D 0.6, D2H 0.5; 10 inferences in 2 s, batch 2.
    let samples: Vec<Value> = (1..=10)
        .map(|i| {
            json!({"enqueue_ms": 0.9, "latency_ms": f64::from(i), "compute_ms": if i == 10 { 1.5 } else { 1.0 },
                   "h2d_ms": 0.6, "d2h_ms": 0.5})
        })
        .collect();
    times_file(dir.path(), "t.json", Value::Array(samples), 2.0, 2);
    let o = cmd(dir.path())
        .args([
            "--import-times",
            "t.json",
            "--json",
            "--percentiles",
            "50,90,99",
        ])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = common::json(&o);
    assert_eq!(r["schema"], "trt-bench/1");
    assert_eq!(r["tool"]["name"], "trt-bench");
    assert_eq!(r["engine"], "yolo.engine");
    assert!(r["environment"].is_null());
    assert_eq!(r["settings"]["percentiles"], json!([50.0, 90.0, 99.0]));
    let res = &r["results"];
    assert_eq!(res["inferences"], 10);
    assert_eq!(res["batch"], 2);
    assert_eq!(res["throughput_qps"], 5.0);
    assert_eq!(res["throughput_images_per_s"], 10.0);
    let lat = &res["latency_ms"];
    assert_eq!(
        (
            lat["min"].as_f64(),
            lat["max"].as_f64(),
            lat["median"].as_f64()
        ),
        (Some(1.0), Some(10.0), Some(5.5))
    );
    assert_eq!(
        lat["percentiles"],
        json!([{"p": 50.0, "value": 5.0}, {"p": 90.0, "value": 9.0}, {"p": 99.0, "value": 10.0}])
    );
    assert_eq!(res["gpu_compute_source"], "events");
    assert_eq!(res["transfer_source"], "per-inference");
    assert!(close(res["gpu_compute_ms"]["mean"].as_f64().unwrap(), 1.05));
    assert_eq!(res["h2d_ms"]["median"], 0.6);
    assert_eq!(res["d2h_ms"]["median"], 0.5);
    for key in [
        "enqueue_ms",
        "preprocess_ms",
        "postprocess_ms",
        "wall_time_s",
    ] {
        assert!(res.get(key).is_some(), "results lacks {key}");
    }
    assert!(res["preprocess_ms"].is_null());
    let k: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(k, vec!["unstable", "enqueue-bound", "transfer-bound"]);
    // The JSON document reads back into the report type (the schema is the type).
    let back: Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(back.results.inferences, 10);

    // Human table: header with the percentiles, one row per measured phase, the warnings.
    let o = cmd(dir.path())
        .args(["--import-times", "t.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "p90",
        "p95",
        "p99",
        "latency",
        "GPU compute",
        "H2D",
        "D2H",
        "5.00 qps",
        "warning [unstable]",
        "settings: imported times (1 stream(s))",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}

#[test]
fn import_times_stable_run_has_no_warnings_and_probe_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Value> = (0..20)
        .map(|_| json!({"enqueue_ms": 0.1, "latency_ms": 2.0}))
        .collect();
    let p = times_file(dir.path(), "t.json", Value::Array(samples), 0.04, 1);
    // Add a transfer probe: H2D from it, marked "probe".
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    doc["transfer_probe"] = json!({"input_bytes": 4915200, "output_bytes": 100800, "h2d_ms": [0.4, 0.5, 0.6], "d2h_ms": [0.1, 0.1, 0.1]});
    std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
    let o = cmd(dir.path())
        .args(["--import-times", "t.json", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = common::json(&o);
    assert_eq!(r["warnings"], json!([]));
    assert_eq!(r["results"]["throughput_qps"], 500.0);
    assert_eq!(r["results"]["transfer_source"], "probe");
    assert_eq!(r["results"]["h2d_ms"]["median"], 0.5);
    assert!(r["results"]["gpu_compute_ms"].is_null());
    assert!(r["results"]["gpu_compute_source"].is_null());
}

#[test]
fn bad_times_files_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.json"), "{not json").unwrap();
    times_file(dir.path(), "empty.json", json!([]), 1.0, 1);
    times_file(
        dir.path(),
        "mixed.json",
        json!([{"enqueue_ms": 1.0, "latency_ms": 1.0, "compute_ms": 1.0}, {"enqueue_ms": 1.0, "latency_ms": 1.0}]),
        1.0,
        1,
    );
    times_file(
        dir.path(),
        "neg.json",
        json!([{"enqueue_ms": 1.0, "latency_ms": -1.0}]),
        1.0,
        1,
    );
    for (file, needle) in [
        ("junk.json", "not a trt-bench times file"),
        ("empty.json", "no samples"),
        ("mixed.json", "every sample must have it or none"),
        ("neg.json", "not a finite non-negative time"),
        ("missing.json", "missing.json"),
    ] {
        let o = cmd(dir.path())
            .args(["--import-times", file])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.starts_with("trt-bench: error: ") && err.contains(needle),
            "{file}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

// ---- trtexec's times trace (--export-times-format trtexec / --exportTimes, --import-times) ----

/// Samples as a measured run records them: host start and enqueue, GPU start, and the three phases, all varied.
fn traced_samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let i = i as f64;
            let (h, c, d) = (
                0.3 + 0.01 * (i % 3.0),
                1.0 + 0.37 * ((i * 7.0) % 5.0),
                0.2 + 0.003 * i,
            );
            Sample {
                start_ms: Some(0.05 + 2.5 * i),
                gpu_start_ms: Some(0.08 + 2.5 * i + 0.01 * (i % 2.0)),
                gpu_ms: Some(h + c + d),
                enqueue_ms: 0.04 + 0.002 * ((i * 3.0) % 4.0),
                latency_ms: h + c + d + 0.15,
                h2d_ms: Some(h),
                compute_ms: Some(c),
                d2h_ms: Some(d),
                ..Sample::default()
            }
        })
        .collect()
}

fn traced_timings(n: usize) -> Timings {
    Timings {
        schema: report::TIMES_SCHEMA.into(),
        engine: "yolo.engine".into(),
        batch: 1,
        streams: 1,
        wall_time_s: 2.5 * n as f64 / 1e3,
        gpu_compute_source: Some("events".into()),
        transfer_probe: None,
        samples: traced_samples(n),
    }
}

fn assert_same_summary(a: &Summary, b: &Summary, what: &str) {
    assert_eq!(a.count, b.count, "{what}");
    for (x, y) in [
        (a.min, b.min),
        (a.mean, b.mean),
        (a.median, b.median),
        (a.max, b.max),
        (a.std_dev, b.std_dev),
    ] {
        assert!((x - y).abs() < 1e-9, "{what}: {a:?} vs {b:?}");
    }
    assert_eq!(a.percentiles.len(), b.percentiles.len());
    for (p, q) in a.percentiles.iter().zip(&b.percentiles) {
        assert!((p.value - q.value).abs() < 1e-9, "{what}: {a:?} vs {b:?}");
    }
}

#[test]
fn trtexec_trace_round_trip_keeps_the_statistics() {
    use trt_tools::bench::trace;
    let dir = tempfile::tempdir().unwrap();
    let t = traced_timings(37);
    let path = dir.path().join("trace.json");
    std::fs::write(&path, trace::to_trtexec(&t).unwrap()).unwrap();
    let (back, format) = Timings::read_detect(&path).unwrap();
    assert_eq!(format, "trtexec");
    assert_eq!(back.samples.len(), 37);
    let mut st = settings();
    st.percentiles = vec![50.0, 90.0, 95.0, 99.0];
    let a = report::analyze(&t, st.clone(), None, 2.5).unwrap();
    let b = report::analyze(&back, st.clone(), None, 2.5).unwrap();
    let (ra, rb) = (&a.results, &b.results);
    for (what, x, y) in [
        ("enqueue", &ra.enqueue_ms, &rb.enqueue_ms),
        ("h2d", &ra.h2d_ms, &rb.h2d_ms),
        ("compute", &ra.gpu_compute_ms, &rb.gpu_compute_ms),
        ("d2h", &ra.d2h_ms, &rb.d2h_ms),
    ] {
        assert_same_summary(x.as_ref().unwrap(), y.as_ref().unwrap(), what);
    }
    assert_eq!(rb.gpu_compute_source.as_deref(), Some("events"));
    assert_eq!(rb.transfer_source.as_deref(), Some("per-inference"));
    // The trace's latency is trtexec's (H2D + compute + D2H), computed here from the original phases.
    let ideal: Vec<f64> = t
        .samples
        .iter()
        .map(|s| s.h2d_ms.unwrap() + s.compute_ms.unwrap() + s.d2h_ms.unwrap())
        .collect();
    assert_same_summary(
        &stats::summarize(&ideal, &st.percentiles).unwrap(),
        &rb.latency_ms,
        "latency",
    );
    // Throughput like trtexec: inferences over the GPU span, first H2D start to last D2H end.
    let first = t.samples[0].gpu_start_ms.unwrap();
    let last = t.samples.last().unwrap();
    let span_ms = last.gpu_start_ms.unwrap() + ideal[36] - first;
    assert!(
        (rb.wall_time_s - span_ms / 1e3).abs() < 1e-12,
        "{}",
        rb.wall_time_s
    );
    assert!((rb.throughput_qps - 37.0 / (span_ms / 1e3)).abs() < 1e-6);
    // Host timestamps survive too.
    for (x, y) in t.samples.iter().zip(&back.samples) {
        assert!((x.start_ms.unwrap() - y.start_ms.unwrap()).abs() < 1e-12);
        assert!((x.gpu_start_ms.unwrap() - y.gpu_start_ms.unwrap()).abs() < 1e-12);
    }
}

/// One line of trtexec's trace, in its exact layout (`  { "key" : value, … }` / `, { … }`).
fn trtexec_line(first: bool, v: [f64; 12]) -> String {
    let keys = [
        "startEnqMs",
        "endEnqMs",
        "startH2dMs",
        "endH2dMs",
        "startComputeMs",
        "endComputeMs",
        "startD2hMs",
        "endD2hMs",
        "h2dMs",
        "computeMs",
        "d2hMs",
        "latencyMs",
    ];
    let body: Vec<String> = keys
        .iter()
        .zip(v)
        .map(|(k, x)| format!("\"{k}\" : {x}"))
        .collect();
    format!(
        "{}{{ {} }}\n",
        if first { "  " } else { ", " },
        body.join(", ")
    )
}

/// A trace as trtexec writes it: 10 inferences every 2 ms, H2D 0.25, compute 1..=10 ms shuffled, D2H 0.125,
/// enqueue 0.5 ms.
fn handwritten_trace() -> String {
    let compute = [7.0, 3.0, 10.0, 1.0, 5.0, 9.0, 2.0, 8.0, 6.0, 4.0];
    let mut text = String::from("[\n");
    for (i, c) in compute.iter().enumerate() {
        let t0 = 20.0 * i as f64;
        let (h, d) = (0.25, 0.125);
        text.push_str(&trtexec_line(
            i == 0,
            [
                t0,
                t0 + 0.5,
                t0 + 0.25,
                t0 + 0.25 + h,
                t0 + 0.25 + h,
                t0 + 0.25 + h + c,
                t0 + 0.25 + h + c,
                t0 + 0.25 + h + c + d,
                h,
                *c,
                d,
                h + c + d,
            ],
        ));
    }
    text.push_str("]\n");
    text
}

#[test]
fn handwritten_trtexec_trace_imports_with_the_expected_percentiles() {
    let dir = tempfile::tempdir().unwrap();
    let text = handwritten_trace();
    assert!(
        text.starts_with("[\n  { \"startEnqMs\" : 0, \"endEnqMs\" : 0.5, \"startH2dMs\" : 0.25, ")
    );
    assert!(text.contains("\n, { \"startEnqMs\" : 20, "));
    std::fs::write(dir.path().join("trace.json"), &text).unwrap();
    let o = cmd(dir.path())
        .args([
            "--importTimes",
            "trace.json",
            "--json",
            "--percentiles",
            "50,90,99",
        ])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let r = common::json(&o);
    assert_eq!(r["schema"], "trt-bench/1");
    assert_eq!(r["engine"], "trace.json");
    assert_eq!(r["settings"]["times_format"], "trtexec");
    let res = &r["results"];
    assert_eq!(res["inferences"], 10);
    assert_eq!(res["batch"], 1);
    let c = &res["gpu_compute_ms"];
    assert_eq!(
        (c["min"].as_f64(), c["max"].as_f64(), c["median"].as_f64()),
        (Some(1.0), Some(10.0), Some(5.5))
    );
    assert_eq!(
        c["percentiles"],
        json!([{"p": 50.0, "value": 5.0}, {"p": 90.0, "value": 9.0}, {"p": 99.0, "value": 10.0}])
    );
    // trtexec's latency: 0.375 ms more than compute.
    let l = &res["latency_ms"];
    assert_eq!(
        (l["min"].as_f64(), l["median"].as_f64()),
        (Some(1.375), Some(5.875))
    );
    assert_eq!(l["percentiles"][1]["value"], 9.375);
    assert_eq!(res["enqueue_ms"]["median"], 0.5);
    assert_eq!(res["h2d_ms"]["max"], 0.25);
    assert_eq!(res["d2h_ms"]["min"], 0.125);
    // GPU span 0.25 → 180.25 + 0.25 + 4 + 0.125 = 184.625 ms.
    assert!(
        (res["wall_time_s"].as_f64().unwrap() - 0.184375).abs() < 1e-12,
        "{res}"
    );
    // The text report says whose latency this is.
    let o = cmd(dir.path())
        .args(["--import-times", "trace.json"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("imported trtexec trace (latency = H2D + GPU compute + D2H"),
        "{text}"
    );
}

#[test]
fn times_files_convert_between_the_two_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let t = traced_timings(12);
    std::fs::write(
        dir.path().join("ours.json"),
        serde_json::to_vec_pretty(&t).unwrap(),
    )
    .unwrap();
    // trtexec's spelling writes trtexec's layout; --export-times keeps trt-bench's unless told otherwise.
    for (args, file) in [
        (vec!["--exportTimes", "a.json"], "a.json"),
        (
            vec![
                "--export-times",
                "b.json",
                "--export-times-format",
                "trtexec",
            ],
            "b.json",
        ),
    ] {
        let o = cmd(dir.path())
            .args(["--import-times", "ours.json"])
            .args(&args)
            .output()
            .unwrap();
        common::assert_ok(&o);
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(
            text.starts_with("[\n  { \"startEnqMs\" : "),
            "{args:?}: {text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 12);
        assert_eq!(v[3]["computeMs"].as_f64(), t.samples[3].compute_ms);
    }
    let o = cmd(dir.path())
        .args(["--import-times", "a.json", "--export-times", "c.json"])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let c: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("c.json")).unwrap()).unwrap();
    assert_eq!(c["schema"], "trt-bench-times/1");
    let o = cmd(dir.path())
        .args([
            "--import-times",
            "a.json",
            "--exportTimes",
            "d.json",
            "--export-times-format",
            "trt-bench",
        ])
        .output()
        .unwrap();
    common::assert_ok(&o);
    let d: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("d.json")).unwrap()).unwrap();
    assert_eq!(d["schema"], "trt-bench-times/1");
    // A trt-bench file without timestamps cannot become a trace: refused, not invented.
    times_file(
        dir.path(),
        "bare.json",
        json!([{"enqueue_ms": 0.1, "latency_ms": 2.0}]),
        1.0,
        1,
    );
    let o = cmd(dir.path())
        .args(["--import-times", "bare.json", "--exportTimes", "e.json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("e.json") && err.contains("no timestamps"),
        "{err}"
    );
    assert!(!dir.path().join("e.json").exists());
}

#[test]
fn malformed_trtexec_traces_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = handwritten_trace();
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty.json", "[\n]\n".into(), "holds no samples"),
        ("numbers.json", "[1, 2]".into(), "entry 0 is not an object"),
        (
            "nokey.json",
            good.replacen("\"latencyMs\" : 7.375", "\"latency\" : 7.375", 1),
            "entry 0 lacks \"latencyMs\"",
        ),
        (
            "string.json",
            good.replacen("\"computeMs\" : 3", "\"computeMs\" : \"3\"", 1),
            "entry 1: \"computeMs\" is \"3\", not a number",
        ),
        (
            "nulllat.json",
            good.replacen("\"latencyMs\" : 7.375", "\"latencyMs\" : null", 1),
            "entry 0: \"latencyMs\" is null",
        ),
        (
            "backwards.json",
            good.replacen("\"endEnqMs\" : 0.5", "\"endEnqMs\" : -1", 1),
            "endEnqMs -1 is before startEnqMs 0",
        ),
        (
            "truncated.json",
            good[..good.len() / 2].to_string(),
            "not a trt-bench times file or trtexec trace",
        ),
    ];
    for (file, text, needle) in &cases {
        assert_ne!(text, &good, "{file}: the fixture must change");
        std::fs::write(dir.path().join(file), text).unwrap();
        let o = cmd(dir.path())
            .args(["--import-times", file])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.starts_with("trt-bench: error: ") && err.contains(file) && err.contains(needle),
            "{file}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

// ---- argument errors (exit 2) ----

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![],
        vec!["m.engine", "--iterations", "0"],
        vec!["m.engine", "--iterations", "5", "--duration", "1"],
        vec!["m.engine", "--duration", "-1"],
        vec!["m.engine", "--percentiles", "101"],
        vec!["m.engine", "--percentiles", "ninety"],
        vec!["m.engine", "--streams", "0"],
        vec!["m.engine", "--shapes", "images=1x3"],
        vec!["--compare", "only-one.engine"],
        vec!["m.engine", "--compare", "a.engine", "b.engine"],
        vec!["m.engine", "--bogus-flag"],
        vec!["m.engine", "--export-times-format", "trtexec"],
        vec![
            "m.engine",
            "--export-times",
            "a.json",
            "--exportTimes",
            "b.json",
        ],
        vec![
            "m.engine",
            "--export-times",
            "a.json",
            "--export-times-format",
            "csv",
        ],
        vec!["--compare", "a.engine", "b.engine", "--dump-profile"],
        vec!["--import-times", "t.json", "--exportProfile=p.json"],
        vec!["m.engine", "--loadInputs=images:"],
        vec!["m.engine", "--loadInputs=:x.bin"],
    ] {
        let o = cmd(dir.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    for flag in ["-h", "--help"] {
        let o = cmd(dir.path()).arg(flag).output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Exit codes: 0 ok"),
            "{flag}"
        );
    }
}

// ---- invalid input (exit 1) and missing TensorRT (exit 3) ----

fn write_engine(dir: &Path, bytes: &[u8]) -> PathBuf {
    common::write_engine(dir, bytes, (11, 4, 0), &[])
}

fn bogus_bytes() -> Vec<u8> {
    (0..2048u32).map(|i| (i * 37 % 253) as u8).collect()
}

#[test]
fn invalid_engines_exit_1_before_tensorrt() {
    let dir = tempfile::tempdir().unwrap();
    let o = cmd(dir.path()).arg("nope.engine").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nope.engine: engine file not found"), "{err}");

    let engine = write_engine(dir.path(), &bogus_bytes());
    let side = trt::sidecar::sidecar_path(&engine);
    // Corrupt sidecar.
    std::fs::write(&side, "{ this is not json").unwrap();
    let o = cmd(dir.path()).arg("m.engine").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("m.engine") && err.contains("sidecar"), "{err}");
    // Missing sidecar.
    std::fs::remove_file(&side).unwrap();
    let o = cmd(dir.path()).arg("m.engine").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sidecar"));
    // Engine bytes changed after the sidecar was written (same length → checksum).
    let engine = write_engine(dir.path(), &bogus_bytes());
    let mut b = bogus_bytes();
    b[7] ^= 0xff;
    std::fs::write(&engine, &b).unwrap();
    let o = cmd(dir.path()).arg("m.engine").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("m.engine"), "{err}");
    // Missing --load-inputs directory and --end-to-end image are exit 1 too, before TensorRT.
    write_engine(dir.path(), &bogus_bytes());
    for (args, needle) in [
        (
            vec!["m.engine", "--load-inputs", "no-dir"],
            "no-dir: not a directory",
        ),
        (
            vec!["m.engine", "--end-to-end", "no.jpg"],
            "no.jpg: image not found",
        ),
        (
            vec!["m.engine", "--loadInputs=images:frame.bin"],
            "frame.bin: file for input `images` not found",
        ),
    ] {
        let o = cmd(dir.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn valid_sidecar_without_tensorrt_exits_3() {
    // TRT_LIBRARY names a file that does not exist, so TensorRT cannot load on any machine: the engine passes every
    // check that needs no TensorRT, and the run stops at the TensorRT/GPU step with exit code 3.
    let dir = tempfile::tempdir().unwrap();
    write_engine(dir.path(), &bogus_bytes());
    let o = cmd(dir.path())
        .env("TRT_LIBRARY", dir.path().join("libnvinfer.so.11"))
        .args(["m.engine", "--iterations", "10"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("trt-bench: error: cannot run engines on this machine"),
        "{err}"
    );
    assert!(err.contains("trt-inspect system"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
#[ignore = "needs TRT_TEST_* libraries"]
fn reallib_lean_runtime_without_gpu_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    write_engine(dir.path(), &bogus_bytes());
    for extra in [
        vec![],
        vec!["--json"],
        vec!["--compare", "m.engine", "m.engine"],
    ] {
        let mut args = if extra.first() == Some(&"--compare") {
            vec![]
        } else {
            vec!["m.engine"]
        };
        args.extend(extra);
        let o = common::real_env(&mut cmd(dir.path()))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        eprintln!("{args:?}: {err}");
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.starts_with("trt-bench: error: cannot run engines on this machine"),
            "{err}"
        );
        assert!(
            err.to_lowercase().contains("cuda"),
            "the message names the missing CUDA device/driver: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn a_bad_plugin_library_is_refused_before_tensorrt_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    common::write_engine(dir.path(), b"engine", (10, 3, 0), &[]);
    std::fs::write(dir.path().join("yolo_layer.cu"), "__global__ void k() {}\n").unwrap();
    let o = cmd(dir.path())
        .args(["m.engine", "--plugins", "yolo_layer.cu"])
        .output()
        .unwrap();
    common::assert_fails(&o, "trt-bench", 1, "yolo_layer.cu: is not a shared library");
    let o = cmd(dir.path())
        .args(["m.engine", "--staticPlugins", "missing.so"])
        .output()
        .unwrap();
    common::assert_fails(&o, "trt-bench", 1, "missing.so: no such file");
}

#[test]
fn engines_without_a_sidecar_load_with_no_sidecar_or_load_engine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("plain.engine"), bogus_bytes()).unwrap();
    std::fs::write(
        d.join("yolov8n.engine"),
        common::ultralytics_engine(&bogus_bytes(), &["person"]),
    )
    .unwrap();
    std::fs::write(d.join("empty.engine"), b"").unwrap();
    std::fs::write(
        d.join("meta-only.engine"),
        common::ultralytics_engine(b"", &["person"]),
    )
    .unwrap();
    // No flag: the missing sidecar stops it, and the message names the way out.
    let o = cmd(d).arg("plain.engine").output().unwrap();
    common::assert_fails(&o, "trt-bench", 1, "--no-sidecar");
    // Asked for: past every check that needs no TensorRT, to the TensorRT step (none here: exit 3).
    for args in [
        vec!["--no-sidecar", "plain.engine"],
        vec!["--no-sidecar", "yolov8n.engine"],
        vec!["--loadEngine=plain.engine"],
        vec!["--load-engine", "yolov8n.engine", "--iterations", "3"],
        vec![
            "--no-sidecar",
            "--compare",
            "plain.engine",
            "yolov8n.engine",
        ],
    ] {
        let o = cmd(d).args(&args).output().unwrap();
        common::assert_fails(&o, "trt-bench", 3, "cannot run engines on this machine");
    }
    // Bad files are still refused before TensorRT, naming the file.
    for (file, needle) in [
        ("missing.engine", "missing.engine: engine file not found"),
        ("empty.engine", "the file is empty"),
        ("meta-only.engine", "no engine after it"),
    ] {
        let o = cmd(d).args(["--no-sidecar", file]).output().unwrap();
        common::assert_fails(&o, "trt-bench", 1, needle);
    }
    // --loadEngine is trtexec's spelling of ENGINE, not a second one.
    let o = cmd(d)
        .args(["plain.engine", "--loadEngine", "plain.engine"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
}

#[test]
fn compare_onnx_checks_the_model_and_tolerances_before_tensorrt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_engine(d, &bogus_bytes());
    common::sample(d, "conv-bn", "m.onnx");
    std::fs::write(d.join("garbage.onnx"), b"not a model").unwrap();
    for (args, code, needle) in [
        (
            vec!["--compare-onnx", "missing.onnx"],
            1,
            "missing.onnx: model not found",
        ),
        (vec!["--compare-onnx", "garbage.onnx"], 1, "garbage.onnx"),
        (
            vec!["--compare-onnx", "m.onnx", "--atol", "NaN"],
            2,
            "--atol NaN",
        ),
        (
            vec!["--compare-onnx", "m.onnx", "--rtol=-1"],
            2,
            "--rtol -1",
        ),
        // Everything that needs no TensorRT passed: the TensorRT step (none here).
        (
            vec!["--compare-onnx", "m.onnx"],
            3,
            "cannot run engines on this machine",
        ),
    ] {
        let mut all = vec!["m.engine"];
        all.extend(&args);
        let o = cmd(d).args(&all).output().unwrap();
        common::assert_fails(&o, "trt-bench", code, needle);
    }
    // Tolerances belong to --compare-onnx, which is not a timing run.
    for args in [
        vec!["m.engine", "--atol", "1e-2"],
        vec![
            "m.engine",
            "--compare-onnx",
            "m.onnx",
            "--end-to-end",
            "x.png",
        ],
        vec![
            "--compare",
            "m.engine",
            "m.engine",
            "--compare-onnx",
            "m.onnx",
        ],
    ] {
        let o = cmd(d).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", common::stderr(&o));
    }
}
