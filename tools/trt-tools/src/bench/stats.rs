//! Statistics of a benchmark run: min / mean / median / percentiles / max, coefficient of variation, throughput, and
//! trtexec-like warnings.
//!
//! # Definitions (all times in milliseconds)
//! * **median**: the middle sample of the sorted samples; the mean of the two middle samples for an even count
//!   (trtexec's `findMedian`).
//! * **percentile p** (nearest rank): the smallest sample such that at least `p`% of the samples are ≤ it, i.e. the
//!   sorted sample at 1-based rank `ceil(p/100 · n)` (rank 1 for p = 0). trtexec's `findPercentile` computes
//!   `n − 1 − floor((1 − p/100)·n)`, the same index in exact arithmetic; we compute the rank in integer
//!   arithmetic on p in thousandths of a percent, so `p = 90` of 10 samples is the 9th sample, never the 10th
//!   through a rounding error.
//! * **coefficient of variation** (CoV): population standard deviation (divide by n) / mean, in percent; 0 for a
//!   zero mean.
//! * **throughput**: inferences completed / host wall time of the measured phase (all streams together), in
//!   queries per second; images per second multiplies by the batch size.
//!
//! # Warnings
//! * `unstable`: CoV of the GPU compute time above the threshold (default 2.5 %). trtexec uses the same quantity
//!   (CoV of GPU compute time) for its "GPU compute time is unstable" warning. When GPU compute time is not measured,
//!   the end-to-end latency is used and the message says so.
//! * `enqueue-bound`: the median enqueue (host launch) time is at least [`ENQUEUE_BOUND_RATIO`] of the median GPU
//!   compute time — the GPU may wait for the host; CUDA graphs (`--cuda-graph`) or more streams help.
//! * `transfer-bound`: median H2D + median D2H is longer than the median GPU compute time.
//! * `few-samples`: fewer than [`MIN_SAMPLES`] measured inferences; percentiles are coarse.

use serde::{Deserialize, Serialize};

/// Default threshold of the `unstable` warning, in percent of CoV.
pub const DEFAULT_UNSTABLE_COV_PERCENT: f64 = 2.5;
/// `enqueue-bound` fires when median enqueue ≥ this fraction of median GPU compute.
pub const ENQUEUE_BOUND_RATIO: f64 = 0.8;
/// Below this many samples a `few-samples` warning is given.
pub const MIN_SAMPLES: usize = 10;

/// Summary of one series of times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Smallest sample.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (see the module docs).
    pub median: f64,
    /// Largest sample.
    pub max: f64,
    /// Population standard deviation.
    pub std_dev: f64,
    /// Coefficient of variation in percent (std_dev / mean · 100).
    pub cov_percent: f64,
    /// Requested percentiles, in the order asked: `[p, value]` pairs.
    pub percentiles: Vec<Percentile>,
}

/// One percentile of a [`Summary`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    /// The percentile asked for, 0–100 (`99.9` allowed).
    pub p: f64,
    /// The nearest-rank sample.
    pub value: f64,
}

/// Errors of the statistics functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// No samples.
    #[error("no samples to summarize")]
    Empty,
    /// A sample is NaN, infinite or negative.
    #[error("sample {index} is {value}, not a finite non-negative time")]
    BadSample {
        /// Index of the sample.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A percentile outside 0–100.
    #[error("percentile {0} is outside 0..=100")]
    BadPercentile(f64),
}

/// Parses `--percentiles 90,95,99` (also `99.9`); each in 0..=100, at most three decimals.
pub fn parse_percentiles(text: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let p: f64 = part.parse().map_err(|_| {
            format!("`{part}` is not a number (expected e.g. --percentiles 90,95,99)")
        })?;
        if !(0.0..=100.0).contains(&p) {
            return Err(format!("percentile {part} is outside 0..=100"));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err("no percentile given (expected e.g. --percentiles 90,95,99)".into());
    }
    Ok(out)
}

/// The 0-based index into `n` sorted samples of the nearest-rank percentile `p` (module docs). `n` must be > 0.
pub fn percentile_index(n: usize, p: f64) -> usize {
    // p in thousandths of a percent, rounded: exact integer arithmetic for every p with ≤ 3 decimals.
    let milli = (p * 1000.0).round().clamp(0.0, 100_000.0) as u128;
    let rank = (milli * n as u128).div_ceil(100_000) as usize; // ceil(p/100 · n)
    rank.clamp(1, n) - 1
}

/// Nearest-rank percentile of already sorted samples.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Result<f64, StatsError> {
    if sorted.is_empty() {
        return Err(StatsError::Empty);
    }
    if !(0.0..=100.0).contains(&p) {
        return Err(StatsError::BadPercentile(p));
    }
    Ok(sorted[percentile_index(sorted.len(), p)])
}

/// Median of already sorted samples (module docs).
pub fn median_sorted(sorted: &[f64]) -> Result<f64, StatsError> {
    let n = sorted.len();
    if n == 0 {
        return Err(StatsError::Empty);
    }
    Ok(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    })
}

/// Summarizes `samples` with the given percentiles.
pub fn summarize(samples: &[f64], percentiles: &[f64]) -> Result<Summary, StatsError> {
    if samples.is_empty() {
        return Err(StatsError::Empty);
    }
    if let Some((index, &value)) = samples
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(StatsError::BadSample { index, value });
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let var = sorted.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let std_dev = var.sqrt();
    let percentiles = percentiles
        .iter()
        .map(|&p| {
            Ok(Percentile {
                p,
                value: percentile_sorted(&sorted, p)?,
            })
        })
        .collect::<Result<Vec<_>, StatsError>>()?;
    Ok(Summary {
        count: sorted.len(),
        min: sorted[0],
        mean,
        median: median_sorted(&sorted)?,
        max: sorted[sorted.len() - 1],
        std_dev,
        cov_percent: if mean > 0.0 {
            std_dev / mean * 100.0
        } else {
            0.0
        },
        percentiles,
    })
}

/// Inferences per second: `inferences / wall_s` (0 when the wall time is 0).
pub fn throughput(inferences: usize, wall_s: f64) -> f64 {
    if wall_s > 0.0 {
        inferences as f64 / wall_s
    } else {
        0.0
    }
}

/// One warning of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// `unstable`, `enqueue-bound`, `transfer-bound` or `few-samples`.
    pub kind: String,
    /// What was seen and what to do.
    pub message: String,
}

/// The summaries the warnings look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct WarningInputs<'a> {
    /// End-to-end latency.
    pub latency: Option<&'a Summary>,
    /// Host enqueue time.
    pub enqueue: Option<&'a Summary>,
    /// Host-to-device copies.
    pub h2d: Option<&'a Summary>,
    /// GPU compute.
    pub compute: Option<&'a Summary>,
    /// Device-to-host copies.
    pub d2h: Option<&'a Summary>,
}

/// trtexec-like warnings (module docs); `unstable_cov_percent` is the `unstable` threshold.
pub fn warnings(inputs: &WarningInputs<'_>, unstable_cov_percent: f64) -> Vec<Warning> {
    let mut out = Vec::new();
    let count = inputs.latency.or(inputs.compute).map_or(0, |s| s.count);
    if count > 0 && count < MIN_SAMPLES {
        out.push(Warning {
            kind: "few-samples".into(),
            message: format!(
                "only {count} inferences were measured; percentiles are coarse. Use more --iterations or a longer \
                 --duration"
            ),
        });
    }
    let (series, what) = match (inputs.compute, inputs.latency) {
        (Some(c), _) => (Some(c), "GPU compute time"),
        (None, Some(l)) => (Some(l), "latency (GPU compute time was not measured)"),
        _ => (None, ""),
    };
    if let Some(s) = series {
        if s.cov_percent > unstable_cov_percent {
            out.push(Warning {
                kind: "unstable".into(),
                message: format!(
                    "{what} is unstable: coefficient of variation {:.2}% > {unstable_cov_percent}%. Lock the GPU \
                     clocks (nvidia-smi -lgc / jetson_clocks), stop other GPU work, and use a longer --warmup",
                    s.cov_percent
                ),
            });
        }
    }
    if let (Some(e), Some(c)) = (inputs.enqueue, inputs.compute) {
        if c.median > 0.0 && e.median >= ENQUEUE_BOUND_RATIO * c.median {
            out.push(Warning {
                kind: "enqueue-bound".into(),
                message: format!(
                    "throughput may be bound by enqueue time rather than GPU compute (median enqueue {:.4} ms vs \
                     GPU compute {:.4} ms); the GPU may be under-utilized. Try --cuda-graph or --streams 2",
                    e.median, c.median
                ),
            });
        }
    }
    if let (Some(h), Some(d), Some(c)) = (inputs.h2d, inputs.d2h, inputs.compute) {
        let t = h.median + d.median;
        if t > c.median {
            out.push(Warning {
                kind: "transfer-bound".into(),
                message: format!(
                    "H2D + D2H transfers (median {:.4} + {:.4} = {t:.4} ms) take longer than GPU compute \
                     ({:.4} ms); throughput may be bound by data transfers. Use --no-data-transfers to see the \
                     engine alone, or zero-copy memory on Jetson",
                    h.median, d.median, c.median
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_ranks() {
        // n = 10: p90 → rank 9, p95 → rank 10, p50 → rank 5, p0 → rank 1, p100 → rank 10.
        assert_eq!(percentile_index(10, 90.0), 8);
        assert_eq!(percentile_index(10, 95.0), 9);
        assert_eq!(percentile_index(10, 50.0), 4);
        assert_eq!(percentile_index(10, 0.0), 0);
        assert_eq!(percentile_index(10, 100.0), 9);
        // n = 1000, p99.9 → rank 999.
        assert_eq!(percentile_index(1000, 99.9), 998);
        assert_eq!(percentile_index(1, 99.0), 0);
    }

    #[test]
    fn parse_percentiles_rejects_bad() {
        assert_eq!(
            parse_percentiles("90, 95,99.9").unwrap(),
            vec![90.0, 95.0, 99.9]
        );
        assert!(parse_percentiles("101").is_err());
        assert!(parse_percentiles("x").is_err());
        assert!(parse_percentiles("").is_err());
    }
}
