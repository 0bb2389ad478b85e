//! Per-layer profile (`--dump-profile`, `--export-profile FILE`): TensorRT's per-layer GPU times
//! (`IProfiler::reportLayerTime`), summarized like trtexec's profiler.
//!
//! # Definitions (times in milliseconds, computed in f64)
//! * **iterations**: profiled inferences (one `reportToProfiler` each).
//! * per layer: **time** = the sum of its reported times; **average** = time / the number of times it was reported;
//!   **median** of its reported times (the mean of the two middle ones for an even count); **percentage** =
//!   time × 100 / the total of all layers.
//! * total row: time = the sum over all layers; average = total / iterations; median = the median of the
//!   per-iteration totals (the sum over layers of their i-th time).
//!
//! Layers keep TensorRT's order: the order they were first reported, which is execution order (trtexec's tables
//! and files use the same order). The table (`--dump-profile`) skips layers that never took time, as trtexec's does;
//! the JSON file lists every layer. Engines whose layers run on auxiliary streams may overlap, so the total can
//! exceed the inference's GPU time.
//!
//! # `--export-profile` file (trtexec's `--exportProfile` layout)
//! ```text
//! [
//!   { "count" : 100 }
//! , { "name" : "conv1", "timeMs" : 12.5, "averageMs" : 0.125, "medianMs" : 0.124, "percentage" : 10.2 }
//! ]
//! ```
//! `count` is the number of iterations; names are JSON-escaped.

use std::fmt::Write as _;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::stats;

/// One layer's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSummary {
    /// The layer name TensorRT reports.
    pub name: String,
    /// How many times it was reported.
    pub count: usize,
    /// Sum of its times, ms.
    pub time_ms: f64,
    /// `time_ms / count`.
    pub average_ms: f64,
    /// Median of its times, ms.
    pub median_ms: f64,
    /// Share of the total, percent.
    pub percentage: f64,
}

/// The per-layer profile of a profiling run (`"profile"` in `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerProfile {
    /// Profiled inferences.
    pub iterations: u64,
    /// Sum of every layer time, ms.
    pub total_ms: f64,
    /// `total_ms / iterations`.
    pub average_ms: f64,
    /// Median of the per-iteration totals, ms.
    pub median_ms: f64,
    /// Every reported layer, in execution order.
    pub layers: Vec<LayerSummary>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    stats::median_sorted(&s).unwrap_or(0.0)
}

/// Summarizes the layer times a profiling session collected (module docs).
pub fn summarize(times: &trt::LayerTimes) -> Result<LayerProfile> {
    if times.reports == 0 || times.layers.is_empty() {
        bail!(
            "TensorRT reported no layer times (the profiling run did not run, or the engine has no layers to time)"
        );
    }
    if let Some(l) = times
        .layers
        .iter()
        .find(|l| l.times_ms.iter().any(|t| !t.is_finite() || *t < 0.0))
    {
        bail!("TensorRT reported an invalid time for layer `{}`", l.name);
    }
    let as_f64 = |l: &trt::LayerTime| l.times_ms.iter().map(|&t| f64::from(t)).collect::<Vec<_>>();
    let total: f64 = times
        .layers
        .iter()
        .map(|l| as_f64(l).iter().sum::<f64>())
        .sum();
    let layers = times
        .layers
        .iter()
        .map(|l| {
            let v = as_f64(l);
            let time: f64 = v.iter().sum();
            LayerSummary {
                name: l.name.clone(),
                count: v.len(),
                time_ms: time,
                average_ms: if v.is_empty() {
                    0.0
                } else {
                    time / v.len() as f64
                },
                median_ms: median(&v),
                percentage: if total > 0.0 {
                    time * 100.0 / total
                } else {
                    0.0
                },
            }
        })
        .collect();
    let runs = times
        .layers
        .iter()
        .map(|l| l.times_ms.len())
        .min()
        .unwrap_or(0);
    let per_run: Vec<f64> = (0..runs)
        .map(|i| times.layers.iter().map(|l| f64::from(l.times_ms[i])).sum())
        .collect();
    Ok(LayerProfile {
        iterations: times.reports,
        total_ms: total,
        average_ms: total / times.reports as f64,
        median_ms: median(&per_run),
        layers,
    })
}

impl LayerProfile {
    /// The `--dump-profile` table: total, average, median, share, name; execution order; a total row.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "=== Profile ({} iterations) ===", self.iterations);
        let _ = writeln!(
            t,
            "{:>11}{:>13}{:>13}{:>10}   Layer",
            "Time(ms)", "Avg.(ms)", "Median(ms)", "Time(%)"
        );
        let row = |t: &mut String, time: f64, avg: f64, median: f64, pct: f64, name: &str| {
            let _ = writeln!(
                t,
                "{time:>11.2}{avg:>13.4}{median:>13.4}{pct:>10.1}   {name}"
            );
        };
        for l in self
            .layers
            .iter()
            .filter(|l| l.count > 0 && l.time_ms > 0.0)
        {
            row(
                &mut t,
                l.time_ms,
                l.average_ms,
                l.median_ms,
                l.percentage,
                &l.name,
            );
        }
        row(
            &mut t,
            self.total_ms,
            self.average_ms,
            self.median_ms,
            100.0,
            "Total",
        );
        t
    }

    /// The `--export-profile` file, in trtexec's `--exportProfile` layout (module docs).
    pub fn to_trtexec_json(&self) -> String {
        let mut t = format!("[\n  {{ \"count\" : {} }}\n", self.iterations);
        for l in &self.layers {
            let name = serde_json::to_string(&l.name).unwrap_or_else(|_| "\"\"".into());
            let _ = writeln!(
                t,
                ", {{ \"name\" : {name}, \"timeMs\" : {}, \"averageMs\" : {}, \"medianMs\" : {}, \"percentage\" : {} }}",
                l.time_ms, l.average_ms, l.median_ms, l.percentage
            );
        }
        t.push_str("]\n");
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(layers: &[(&str, &[f32])], reports: u64) -> trt::LayerTimes {
        trt::LayerTimes {
            layers: layers
                .iter()
                .map(|(n, t)| trt::LayerTime {
                    name: (*n).into(),
                    times_ms: t.to_vec(),
                })
                .collect(),
            reports,
            dropped: 0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn sums_averages_medians_and_shares() {
        // Four iterations of three layers; "relu" never takes time. Times are exact in f32.
        let t = times(
            &[
                ("conv", &[1.0, 3.0, 2.0, 6.0]),
                ("relu", &[0.0, 0.0, 0.0, 0.0]),
                ("head \"out\"", &[0.5, 0.5, 1.5, 0.5]),
            ],
            4,
        );
        let p = summarize(&t).unwrap();
        assert_eq!(p.iterations, 4);
        // conv 12, head 3, total 15.
        assert!(close(p.total_ms, 15.0));
        assert!(close(p.average_ms, 3.75));
        // Per-iteration totals 1.5, 3.5, 3.5, 6.5 → median 3.5.
        assert!(close(p.median_ms, 3.5));
        let names: Vec<&str> = p.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["conv", "relu", "head \"out\""],
            "execution order kept"
        );
        let conv = &p.layers[0];
        assert_eq!(conv.count, 4);
        assert!(close(conv.time_ms, 12.0) && close(conv.average_ms, 3.0));
        assert!(close(conv.median_ms, 2.5), "median of 1, 2, 3, 6");
        assert!(close(conv.percentage, 80.0));
        let head = &p.layers[2];
        assert!(close(head.median_ms, 0.5) && close(head.percentage, 20.0));

        // The table skips the layer that never took time and ends with the total.
        let text = p.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "=== Profile (4 iterations) ===");
        assert_eq!(
            lines[1],
            "   Time(ms)     Avg.(ms)   Median(ms)   Time(%)   Layer"
        );
        assert_eq!(
            lines[2],
            "      12.00       3.0000       2.5000      80.0   conv"
        );
        assert!(lines[3].ends_with("   head \"out\""), "{text}");
        assert_eq!(
            lines[4],
            "      15.00       3.7500       3.5000     100.0   Total"
        );
        assert_eq!(lines.len(), 5, "{text}");

        // The file: trtexec's layout, every layer, valid JSON.
        let json = p.to_trtexec_json();
        assert!(json.starts_with("[\n  { \"count\" : 4 }\n, { \"name\" : \"conv\", \"timeMs\" : 12, \"averageMs\" : 3, \"medianMs\" : 2.5, \"percentage\" : 80 }\n"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a[0]["count"], 4);
        assert_eq!(a[3]["name"], "head \"out\"");
        assert_eq!(a[2]["timeMs"], 0.0);
    }

    #[test]
    fn nothing_reported_is_an_error() {
        assert!(summarize(&times(&[], 0)).is_err());
        assert!(summarize(&times(&[("a", &[1.0])], 0)).is_err());
        assert!(summarize(&times(&[("a", &[f32::NAN])], 1)).is_err());
    }
}
