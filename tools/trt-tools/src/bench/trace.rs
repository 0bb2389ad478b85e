//! trtexec's times trace (`trtexec --exportTimes=FILE`): written by `--export-times-format trtexec` (and by the
//! trtexec spelling `--exportTimes`), read back by `--import-times` next to trt-bench's own times file.
//!
//! # Layout
//! A JSON array with one object per measured inference (warm-up excluded), the keys in trtexec's order, written with
//! trtexec's spacing:
//! ```text
//! [
//!   { "startEnqMs" : 0.02, "endEnqMs" : 0.09, "startH2dMs" : 0.03, "endH2dMs" : 0.41, "startComputeMs" : 0.41, "endComputeMs" : 2.1, "startD2hMs" : 2.1, "endD2hMs" : 2.15, "h2dMs" : 0.38, "computeMs" : 1.69, "d2hMs" : 0.05, "latencyMs" : 2.12 }
//! , { "startEnqMs" : 2.2, ... }
//! ]
//! ```
//! All values are milliseconds. The `start…`/`end…` timestamps count from the start of the measured phase; the
//! enqueue pair is host time, the other six GPU time (CUDA events), as in trtexec.
//!
//! # What trt-bench writes in each field
//! | field | trt-bench's measurement |
//! | --- | --- |
//! | `startEnqMs` / `endEnqMs` | host: start of the inference call, and that plus its enqueue time |
//! | `startH2dMs` | GPU: a CUDA event recorded on the stream just before the inference's work |
//! | `endH2dMs` = `startComputeMs`, `endComputeMs` = `startD2hMs`, `endD2hMs` | `startH2dMs` plus the phase times: the session's phase events are recorded back to back, so the phases are contiguous |
//! | `h2dMs`, `computeMs`, `d2hMs` | the phase events; with `--no-data-transfers` no copy runs and H2D / D2H are 0 (as in trtexec's `--noDataTransfers`) |
//! | `latencyMs` | trtexec's latency: H2D + GPU compute + D2H, **not** trt-bench's host latency (which the trace has no field for) |
//!
//! A replayed CUDA graph (`--cuda-graph`) is one launch whose phases cannot be told apart: then `endH2dMs`,
//! `startComputeMs`, `endComputeMs`, `startD2hMs`, `h2dMs`, `computeMs` and `d2hMs` are `null` (not measured), and
//! `latencyMs` / `endD2hMs` come from the events around the whole replay. Nothing in the trace is invented.
//!
//! # Reading a trace
//! Each object becomes one sample: enqueue = `endEnqMs − startEnqMs`, latency = `latencyMs` (trtexec's definition,
//! which the report says), H2D / GPU compute / D2H = `h2dMs` / `computeMs` / `d2hMs` (`null`: not measured). Like
//! trtexec, the wall time of the run is the GPU span from the earliest `startH2dMs` to the latest `endD2hMs`, and
//! every inference counts as one query (batch 1; the trace records neither batch nor streams). Every one of the
//! twelve keys must be present (a number, or `null`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use serde_json::Value;

use super::report::{Sample, Timings, TIMES_SCHEMA};

/// The `times_format` a report names for an imported trtexec trace.
pub const FORMAT: &str = "trtexec";

/// trtexec's keys, in its order.
pub const KEYS: [&str; 12] = [
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

/// One inference of the trace; `None` is written as `null` (not measured).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry([Option<f64>; 12]);

fn entry(s: &Sample, index: usize) -> Result<Entry> {
    let (Some(start), Some(gpu_start)) = (s.start_ms, s.gpu_start_ms) else {
        bail!(
            "sample {index} has no timestamps (start_ms, gpu_start_ms); trtexec's trace needs them: export the \
             times of a run measured with --export-times, or keep trt-bench's format"
        );
    };
    let phases = match (s.h2d_ms, s.compute_ms, s.d2h_ms) {
        // Split phases; no copies at all (zero-copy) count as 0, as trtexec's --noDataTransfers does.
        (h, Some(c), d) => Some((h.unwrap_or(0.0), c, d.unwrap_or(0.0))),
        _ => None,
    };
    let e = match phases {
        Some((h, c, d)) => {
            let end_h2d = gpu_start + h;
            let end_compute = end_h2d + c;
            [
                Some(start),
                Some(start + s.enqueue_ms),
                Some(gpu_start),
                Some(end_h2d),
                Some(end_h2d),
                Some(end_compute),
                Some(end_compute),
                Some(end_compute + d),
                Some(h),
                Some(c),
                Some(d),
                Some(h + c + d),
            ]
        }
        None => [
            Some(start),
            Some(start + s.enqueue_ms),
            Some(gpu_start),
            None,
            None,
            None,
            None,
            s.gpu_ms.map(|g| gpu_start + g),
            None,
            None,
            None,
            s.gpu_ms,
        ],
    };
    Ok(Entry(e))
}

fn number(v: Option<f64>) -> String {
    match v {
        Some(x) => format!("{x}"),
        None => "null".into(),
    }
}

/// `timings` as trtexec's trace (module docs), byte for byte in trtexec's layout.
pub fn to_trtexec(timings: &Timings) -> Result<String> {
    let mut out = String::from("[\n");
    let mut sep = "  ";
    for (i, s) in timings.samples.iter().enumerate() {
        let Entry(values) = entry(s, i)?;
        let _ = write!(out, "{sep}{{ ");
        sep = ", ";
        for (k, (key, v)) in KEYS.iter().zip(values).enumerate() {
            if k > 0 {
                out.push_str(sep);
            }
            let _ = write!(out, "\"{key}\" : {}", number(v));
        }
        out.push_str(" }\n");
    }
    out.push_str("]\n");
    Ok(out)
}

/// Reads trtexec's trace (`value` is the parsed top-level array of `path`) into timings (module docs); errors name
/// the file and the inference.
pub fn from_trtexec(value: &Value, path: &Path) -> Result<Timings> {
    let file = path.display();
    let Some(items) = value.as_array() else {
        bail!("{file}: a trtexec trace is a JSON array of inferences");
    };
    if items.is_empty() {
        bail!("{file}: the trtexec trace holds no samples");
    }
    let mut samples = Vec::with_capacity(items.len());
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            bail!("{file}: trtexec trace entry {i} is not an object");
        };
        let mut v = [None; 12];
        for (k, key) in KEYS.iter().enumerate() {
            v[k] = match obj.get(*key) {
                None => bail!(
                    "{file}: trtexec trace entry {i} lacks \"{key}\" (a trace written by trtexec --exportTimes \
                     has all of {})",
                    KEYS.join(", ")
                ),
                Some(Value::Null) => None,
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(x) if x.is_finite() => Some(x),
                    _ => bail!("{file}: trtexec trace entry {i}: \"{key}\" is not a finite number"),
                },
                Some(other) => {
                    bail!("{file}: trtexec trace entry {i}: \"{key}\" is {other}, not a number")
                }
            };
        }
        let need = |k: usize| {
            v[k].ok_or_else(|| {
                anyhow::anyhow!("{file}: trtexec trace entry {i}: \"{}\" is null", KEYS[k])
            })
        };
        let (start_enq, end_enq, latency) = (need(0)?, need(1)?, need(11)?);
        let enqueue = end_enq - start_enq;
        if enqueue < 0.0 {
            bail!("{file}: trtexec trace entry {i}: endEnqMs {end_enq} is before startEnqMs {start_enq}");
        }
        let [_, _, start_h2d, _, _, _, _, end_d2h, h2d, compute, d2h, _] = v;
        first = first.min(start_h2d.unwrap_or(start_enq));
        last = last.max(end_d2h.unwrap_or(start_h2d.unwrap_or(start_enq) + latency));
        samples.push(Sample {
            stream: 0,
            start_ms: Some(start_enq),
            gpu_start_ms: start_h2d,
            gpu_ms: start_h2d.zip(end_d2h).map(|(a, b)| b - a),
            enqueue_ms: enqueue,
            latency_ms: latency,
            h2d_ms: h2d,
            compute_ms: compute,
            d2h_ms: d2h,
            preprocess_ms: None,
            postprocess_ms: None,
        });
    }
    let wall_ms = last - first;
    if !(wall_ms.is_finite() && wall_ms > 0.0) {
        bail!(
            "{file}: the trtexec trace spans no time (first startH2dMs {first}, last endD2hMs {last}); it cannot \
             give a throughput"
        );
    }
    Ok(Timings {
        schema: TIMES_SCHEMA.into(),
        engine: path.display().to_string(),
        batch: 1,
        streams: 1,
        wall_time_s: wall_ms / 1e3,
        gpu_compute_source: samples
            .iter()
            .any(|s| s.compute_ms.is_some())
            .then(|| "events".into()),
        transfer_probe: None,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start: f64, gpu_start: f64, h: f64, c: f64, d: f64) -> Sample {
        Sample {
            start_ms: Some(start),
            gpu_start_ms: Some(gpu_start),
            gpu_ms: Some(h + c + d),
            enqueue_ms: 0.25,
            latency_ms: 9.0,
            h2d_ms: Some(h),
            compute_ms: Some(c),
            d2h_ms: Some(d),
            ..Sample::default()
        }
    }

    #[test]
    fn layout_is_trtexecs() {
        let t = Timings {
            schema: TIMES_SCHEMA.into(),
            engine: "m.engine".into(),
            batch: 1,
            streams: 1,
            wall_time_s: 1.0,
            gpu_compute_source: None,
            transfer_probe: None,
            samples: vec![
                sample(0.5, 0.75, 0.5, 2.0, 0.25),
                sample(3.0, 3.5, 0.5, 2.0, 0.25),
            ],
        };
        let text = to_trtexec(&t).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "[");
        assert_eq!(
            lines[1],
            "  { \"startEnqMs\" : 0.5, \"endEnqMs\" : 0.75, \"startH2dMs\" : 0.75, \"endH2dMs\" : 1.25, \
             \"startComputeMs\" : 1.25, \"endComputeMs\" : 3.25, \"startD2hMs\" : 3.25, \"endD2hMs\" : 3.5, \
             \"h2dMs\" : 0.5, \"computeMs\" : 2, \"d2hMs\" : 0.25, \"latencyMs\" : 2.75 }"
        );
        assert!(
            lines[2].starts_with(", { \"startEnqMs\" : 3, "),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "]");
        assert!(text.ends_with("]\n"));
    }

    #[test]
    fn graph_replays_leave_the_inner_phases_null_and_zero_copy_writes_zero() {
        let graph = Sample {
            start_ms: Some(1.0),
            gpu_start_ms: Some(1.5),
            gpu_ms: Some(2.0),
            enqueue_ms: 0.5,
            latency_ms: 3.0,
            ..Sample::default()
        };
        let Entry(v) = entry(&graph, 0).unwrap();
        assert_eq!(
            v,
            [
                Some(1.0),
                Some(1.5),
                Some(1.5),
                None,
                None,
                None,
                None,
                Some(3.5),
                None,
                None,
                None,
                Some(2.0)
            ]
        );
        let zero_copy = Sample {
            h2d_ms: None,
            d2h_ms: None,
            ..sample(0.0, 0.0, 0.0, 1.5, 0.0)
        };
        let Entry(v) = entry(&zero_copy, 0).unwrap();
        assert_eq!(
            (v[8], v[9], v[10], v[11]),
            (Some(0.0), Some(1.5), Some(0.0), Some(1.5))
        );
        // No timestamps: refused, not invented.
        let bare = Sample {
            latency_ms: 1.0,
            ..Sample::default()
        };
        assert!(format!("{:#}", entry(&bare, 3).unwrap_err()).contains("sample 3"));
    }
}
