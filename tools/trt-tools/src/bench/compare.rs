//! `trt-bench --compare A B [C…]`: the same workload on every engine in one process, interleaved, and a ratio table.
//!
//! # Interleaving
//! The measured phase is split into rounds. Round `r` runs one chunk of every engine, starting with engine
//! `r mod n` ([`schedule`]), so clock boost, thermal drift and background load spread over all engines instead of
//! favouring whichever ran first. Each engine's throughput uses the sum of its own chunks' wall times.
//!
//! # Ratios (first engine = baseline)
//! * `latency_ratio` = median latency / baseline median latency (< 1: faster);
//! * `speedup` = baseline median latency / median latency (> 1: faster);
//! * `throughput_ratio` = qps / baseline qps;
//! * `gpu_compute_ratio` = median GPU compute / baseline median GPU compute, when both were measured.
//!
//! # JSON schema `trt-bench-compare/1`
//! `{"schema": "trt-bench-compare/1", "tool": {...}, "baseline": "A.engine", "rounds": 10, "runs": [REPORT, ...],
//! "ratios": [{"engine", "latency_median_ms", "throughput_qps", "gpu_compute_median_ms" | null, "latency_ratio",
//! "speedup", "throughput_ratio", "gpu_compute_ratio" | null}, ...]}` with `REPORT` the `trt-bench/1` document of
//! each engine (see [`super::report`]).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::report::{Report, Tool};

/// Schema tag of the comparison.
pub const SCHEMA: &str = "trt-bench-compare/1";

/// The engine order of every chunk: `rounds` rounds of `engines` chunks, round `r` rotated to start at `r mod n`.
pub fn schedule(engines: usize, rounds: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(engines * rounds);
    for r in 0..rounds {
        for k in 0..engines {
            out.push((r + k) % engines);
        }
    }
    out
}

/// Splits `total` iterations into `rounds` chunks that differ by at most one and sum to `total`.
pub fn split_iterations(total: u64, rounds: usize) -> Vec<u64> {
    let rounds = rounds.max(1) as u64;
    (0..rounds)
        .map(|r| total / rounds + u64::from(r < total % rounds))
        .collect()
}

/// One line of the ratio table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Engine path.
    pub engine: String,
    /// Median latency, ms.
    pub latency_median_ms: f64,
    /// Inferences per second.
    pub throughput_qps: f64,
    /// Median GPU compute, ms.
    pub gpu_compute_median_ms: Option<f64>,
    /// Median latency / baseline median latency.
    pub latency_ratio: f64,
    /// Baseline median latency / median latency.
    pub speedup: f64,
    /// qps / baseline qps.
    pub throughput_ratio: f64,
    /// Median GPU compute / baseline median GPU compute.
    pub gpu_compute_ratio: Option<f64>,
}

fn div(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Ratios of every report against the first (module docs). Empty input gives an empty table.
pub fn ratios(reports: &[Report]) -> Vec<Ratio> {
    let Some(base) = reports.first() else {
        return Vec::new();
    };
    let bl = base.results.latency_ms.median;
    let bq = base.results.throughput_qps;
    let bc = base.results.gpu_compute_ms.as_ref().map(|s| s.median);
    reports
        .iter()
        .map(|r| {
            let l = r.results.latency_ms.median;
            let c = r.results.gpu_compute_ms.as_ref().map(|s| s.median);
            Ratio {
                engine: r.engine.clone(),
                latency_median_ms: l,
                throughput_qps: r.results.throughput_qps,
                gpu_compute_median_ms: c,
                latency_ratio: div(l, bl),
                speedup: div(bl, l),
                throughput_ratio: div(r.results.throughput_qps, bq),
                gpu_compute_ratio: match (c, bc) {
                    (Some(c), Some(b)) => Some(div(c, b)),
                    _ => None,
                },
            }
        })
        .collect()
}

/// The comparison document (`--compare … --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The tool.
    pub tool: Tool,
    /// The baseline engine (first given).
    pub baseline: String,
    /// Interleaving rounds.
    pub rounds: usize,
    /// One report per engine, in the order given.
    pub runs: Vec<Report>,
    /// Ratio table.
    pub ratios: Vec<Ratio>,
}

impl CompareReport {
    /// Builds the comparison of `runs` (first = baseline).
    pub fn new(runs: Vec<Report>, rounds: usize) -> Self {
        CompareReport {
            schema: SCHEMA.into(),
            tool: Tool::default(),
            baseline: runs.first().map(|r| r.engine.clone()).unwrap_or_default(),
            rounds,
            ratios: ratios(&runs),
            runs,
        }
    }

    /// Every engine's report, then the ratio table.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        for r in &self.runs {
            t.push_str(&r.to_text());
            t.push('\n');
        }
        let _ = writeln!(
            t,
            "comparison ({} interleaved rounds; baseline {}):",
            self.rounds, self.baseline
        );
        let _ = writeln!(
            t,
            "{:<40}{:>12}{:>12}{:>10}{:>10}{:>12}{:>10}",
            "engine", "median ms", "qps", "latency×", "speedup", "GPU ms", "GPU×"
        );
        for r in &self.ratios {
            let _ = writeln!(
                t,
                "{:<40}{:>12.4}{:>12.2}{:>10.3}{:>10.3}{:>12}{:>10}",
                r.engine,
                r.latency_median_ms,
                r.throughput_qps,
                r.latency_ratio,
                r.speedup,
                r.gpu_compute_median_ms
                    .map_or("-".into(), |v| format!("{v:.4}")),
                r.gpu_compute_ratio
                    .map_or("-".into(), |v| format!("{v:.3}")),
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_rotates_and_covers() {
        assert_eq!(schedule(3, 3), vec![0, 1, 2, 1, 2, 0, 2, 0, 1]);
        let s = schedule(4, 8);
        for e in 0..4 {
            assert_eq!(s.iter().filter(|&&x| x == e).count(), 8);
            // Each engine leads exactly twice in 8 rounds.
            assert_eq!(s.chunks(4).filter(|c| c[0] == e).count(), 2);
        }
    }

    #[test]
    fn split_sums() {
        assert_eq!(split_iterations(10, 3), vec![4, 3, 3]);
        assert_eq!(split_iterations(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split_iterations(1000, 7).iter().sum::<u64>(), 1000);
    }
}
