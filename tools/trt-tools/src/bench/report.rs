//! Benchmark results: raw timings, the analysed report, the human table and the `--json` document.
//!
//! # JSON schema `trt-bench/1` (`trt-bench ENGINE --json`)
//! ```text
//! {
//!   "schema": "trt-bench/1",
//!   "tool": {"name": "trt-bench", "version": "0.1.0"},
//!   "engine": "model.engine",                 // path as given (or the times file for --import-times)
//!   "environment": {"tensorrt": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"} | null,
//!   "settings": {
//!     "warmup_ms": 200, "iterations": 1000 | null, "duration_s": 3.0 | null, "streams": 1,
//!     "cuda_graph": false, "data_transfers": true, "percentiles": [90, 95, 99],
//!     "shapes": ["images:1x3x640x640"], "inputs": "random" | "DIR" | "name:file,…", "end_to_end": "IMAGE" | null,
//!     "times_format": "trt-bench" | "trtexec"  // only with --import-times: the file's layout
//!   },
//!   "results": {
//!     "inferences": 1000, "batch": 1, "wall_time_s": 2.5,
//!     "throughput_qps": 400.0, "throughput_images_per_s": 400.0,
//!     "latency_ms":      SUMMARY,            // host: start of the inference call → outputs ready
//!     "enqueue_ms":      SUMMARY | null,     // host: time to launch the work
//!     "h2d_ms":          SUMMARY | null,     // CUDA events
//!     "transfer_source": "per-inference" | "probe" | null,
//!     "gpu_compute_ms":  SUMMARY | null,     // CUDA events (see gpu_compute_source)
//!     "gpu_compute_source": "events" | "derived" | null,
//!     "d2h_ms":          SUMMARY | null,
//!     "preprocess_ms":   SUMMARY | null,     // --end-to-end: letterbox into the input buffer
//!     "postprocess_ms":  SUMMARY | null      // --end-to-end: decode + NMS
//!   },
//!   "warnings": [{"kind": "unstable" | "enqueue-bound" | "transfer-bound" | "few-samples", "message": "..."}],
//!   "profile": {                            // only with --dump-profile / --export-profile (see bench::profile)
//!     "iterations": 100, "total_ms": 150.0, "average_ms": 1.5, "median_ms": 1.49,
//!     "layers": [{"name", "count", "time_ms", "average_ms", "median_ms", "percentage"}, ...]  // execution order
//!   }
//! }
//! SUMMARY = {"count", "min", "mean", "median", "max", "std_dev", "cov_percent",
//!            "percentiles": [{"p": 90.0, "value": 1.23}, ...]}       // milliseconds
//! ```
//! A field is added to the schema without changing its version; removing or changing one bumps it.
//!
//! # Times file `trt-bench-times/1` (`--export-times FILE`, read back with `--import-times FILE`)
//! `{"schema": "trt-bench-times/1", "engine", "batch", "streams", "wall_time_s", "samples": [SAMPLE, ...]}` with
//! an optional `"transfer_probe": {"input_bytes", "output_bytes", "h2d_ms": [..], "d2h_ms": [..]}` and
//! `SAMPLE = {"stream", "start_ms"?, "gpu_start_ms"?, "gpu_ms"?, "enqueue_ms", "latency_ms", "h2d_ms"?,
//! "compute_ms"?, "d2h_ms"?, "preprocess_ms"?, "postprocess_ms"?}` (milliseconds; missing phases were not measured;
//! `start_ms` / `gpu_start_ms` count from the start of the measured phase, see [`Sample`]).
//!
//! `--import-times` also reads trtexec's trace (`trtexec --exportTimes`, a JSON array), and
//! `--export-times-format trtexec` writes one: see [`super::trace`] for what each field holds.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::stats::{self, Summary, Warning, WarningInputs};

/// Schema tag of the report.
pub const SCHEMA: &str = "trt-bench/1";
/// Schema tag of the times file.
pub const TIMES_SCHEMA: &str = "trt-bench-times/1";
/// The `times_format` a report names for an imported trt-bench times file.
pub const TIMES_FORMAT: &str = "trt-bench";

/// One measured inference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Stream (session) index.
    #[serde(default)]
    pub stream: usize,
    /// Host time at the start of the inference call, ms since the measured phase began (all streams share that
    /// origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<f64>,
    /// GPU time at which the inference's first work began on its stream, ms since the measured phase began (a CUDA
    /// event recorded before the inference, against one recorded when the phase began; with `--export-times`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_start_ms: Option<f64>,
    /// GPU time of everything the inference put on its stream, ms: H2D + compute + D2H, measured as one span (the
    /// only GPU figure of a CUDA graph replay; with `--export-times`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_ms: Option<f64>,
    /// Host time to launch the inference, ms.
    pub enqueue_ms: f64,
    /// Host time from the start of the inference call to outputs ready, ms.
    pub latency_ms: f64,
    /// Host-to-device copies, ms (CUDA events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2d_ms: Option<f64>,
    /// GPU compute, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_ms: Option<f64>,
    /// Device-to-host copies, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d2h_ms: Option<f64>,
    /// Preprocessing (end-to-end runs), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess_ms: Option<f64>,
    /// Postprocessing (end-to-end runs), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postprocess_ms: Option<f64>,
}

/// The raw timings of one run (the times file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    /// Always [`TIMES_SCHEMA`].
    pub schema: String,
    /// Engine path.
    pub engine: String,
    /// Images per inference.
    pub batch: usize,
    /// Streams that ran concurrently.
    pub streams: usize,
    /// Host wall time of the measured phase, seconds.
    pub wall_time_s: f64,
    /// How GPU compute was obtained (`events` / `derived`), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_compute_source: Option<String>,
    /// H2D / D2H times from the transfer probe (when not measured per inference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_probe: Option<TransferProbe>,
    /// Every measured inference.
    pub samples: Vec<Sample>,
}

/// Event-timed copies of the engine's input / output byte counts, run apart from the inferences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferProbe {
    /// Bytes copied host → device (all inputs).
    pub input_bytes: usize,
    /// Bytes copied device → host (all outputs).
    pub output_bytes: usize,
    /// H2D times, ms.
    pub h2d_ms: Vec<f64>,
    /// D2H times, ms.
    pub d2h_ms: Vec<f64>,
}

impl Timings {
    /// Reads a times file, naming the file in every error: trt-bench's own (a JSON object, [`TIMES_SCHEMA`]) or
    /// trtexec's trace (a JSON array, [`super::trace`]), told apart by their shape.
    pub fn read(path: &std::path::Path) -> Result<Timings> {
        Ok(Self::read_detect(path)?.0)
    }

    /// [`Timings::read`], also saying which format the file had: [`TIMES_FORMAT`] or [`super::trace::FORMAT`].
    pub fn read_detect(path: &std::path::Path) -> Result<(Timings, &'static str)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading times file {}", path.display()))?;
        let not_times = || {
            format!(
                "{}: not a trt-bench times file or trtexec trace (expected the JSON written by --export-times, or \
                 by trtexec --exportTimes)",
                path.display()
            )
        };
        let value: serde_json::Value = serde_json::from_str(&text).with_context(not_times)?;
        if value.is_array() {
            return Ok((
                super::trace::from_trtexec(&value, path)?,
                super::trace::FORMAT,
            ));
        }
        let t: Timings = serde_json::from_value(value).with_context(not_times)?;
        if t.schema != TIMES_SCHEMA {
            bail!(
                "{}: schema `{}` is not `{TIMES_SCHEMA}`; re-export it with this trt-bench",
                path.display(),
                t.schema
            );
        }
        if t.samples.is_empty() {
            bail!("{}: the times file holds no samples", path.display());
        }
        if t.batch == 0 || !(t.wall_time_s.is_finite() && t.wall_time_s > 0.0) {
            bail!("{}: batch must be ≥ 1 and wall_time_s > 0", path.display());
        }
        Ok((t, TIMES_FORMAT))
    }
}

/// Facts about the machine, when a GPU ran the benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Loaded TensorRT version.
    pub tensorrt: String,
    /// GPU name.
    pub gpu: String,
    /// Compute capability (`8.7`).
    pub compute_capability: String,
}

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Warm-up before measuring, ms.
    pub warmup_ms: u64,
    /// Fixed number of measured inferences per stream.
    pub iterations: Option<u64>,
    /// Or: measure for this long.
    pub duration_s: Option<f64>,
    /// Concurrent streams (one execution context each).
    pub streams: usize,
    /// CUDA graph replay.
    pub cuda_graph: bool,
    /// Whether H2D / D2H copies ran.
    pub data_transfers: bool,
    /// Percentiles reported.
    pub percentiles: Vec<f64>,
    /// Shapes given with `--shapes`.
    pub shapes: Vec<String>,
    /// `random` or the `--load-inputs` directory.
    pub inputs: String,
    /// `--end-to-end` image.
    pub end_to_end: Option<String>,
    /// `--import-times`: the file's format, `trt-bench` or `trtexec` (absent for measured runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times_format: Option<String>,
}

/// The tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// `trt-bench`.
    pub name: String,
    /// Package version.
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "trt-bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Summaries of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Measured inferences (all streams).
    pub inferences: usize,
    /// Images per inference.
    pub batch: usize,
    /// Host wall time of the measured phase, seconds.
    pub wall_time_s: f64,
    /// Inferences per second.
    pub throughput_qps: f64,
    /// Images per second.
    pub throughput_images_per_s: f64,
    /// End-to-end latency.
    pub latency_ms: Summary,
    /// Enqueue time.
    pub enqueue_ms: Option<Summary>,
    /// H2D copies.
    pub h2d_ms: Option<Summary>,
    /// Where H2D / D2H come from: `per-inference` or `probe` (see [`TransferProbe`]).
    pub transfer_source: Option<String>,
    /// GPU compute.
    pub gpu_compute_ms: Option<Summary>,
    /// `events` or `derived`.
    pub gpu_compute_source: Option<String>,
    /// D2H copies.
    pub d2h_ms: Option<Summary>,
    /// End-to-end preprocessing.
    pub preprocess_ms: Option<Summary>,
    /// End-to-end postprocessing.
    pub postprocess_ms: Option<Summary>,
}

/// The whole report (`--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The tool.
    pub tool: Tool,
    /// Engine path.
    pub engine: String,
    /// Machine facts.
    pub environment: Option<Environment>,
    /// Settings.
    pub settings: Settings,
    /// Results.
    pub results: Results,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// Per-layer profile (`--dump-profile` / `--export-profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<super::profile::LayerProfile>,
}

fn series(
    samples: &[Sample],
    f: impl Fn(&Sample) -> Option<f64>,
    p: &[f64],
    what: &str,
) -> Result<Option<Summary>> {
    let v: Vec<f64> = samples.iter().filter_map(&f).collect();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() != samples.len() {
        bail!(
            "{what} is measured for {} of {} samples; every sample must have it or none",
            v.len(),
            samples.len()
        );
    }
    Ok(Some(
        stats::summarize(&v, p).with_context(|| format!("summarizing {what}"))?,
    ))
}

/// Summarizes `timings` into a report.
pub fn analyze(
    timings: &Timings,
    settings: Settings,
    environment: Option<Environment>,
    unstable_cov_percent: f64,
) -> Result<Report> {
    let p = &settings.percentiles;
    let s = &timings.samples;
    let latency = series(s, |x| Some(x.latency_ms), p, "latency")?
        .ok_or_else(|| anyhow::anyhow!("no samples were measured"))?;
    let enqueue = series(s, |x| Some(x.enqueue_ms), p, "enqueue time")?;
    let mut h2d = series(s, |x| x.h2d_ms, p, "H2D time")?;
    let compute = series(s, |x| x.compute_ms, p, "GPU compute time")?;
    let mut d2h = series(s, |x| x.d2h_ms, p, "D2H time")?;
    let mut transfer_source = (h2d.is_some() || d2h.is_some()).then(|| "per-inference".to_string());
    if let (None, None, Some(probe)) = (&h2d, &d2h, &timings.transfer_probe) {
        if !probe.h2d_ms.is_empty() && !probe.d2h_ms.is_empty() {
            h2d = Some(stats::summarize(&probe.h2d_ms, p).context("summarizing the H2D probe")?);
            d2h = Some(stats::summarize(&probe.d2h_ms, p).context("summarizing the D2H probe")?);
            transfer_source = Some("probe".into());
        }
    }
    let pre = series(s, |x| x.preprocess_ms, p, "preprocessing time")?;
    let post = series(s, |x| x.postprocess_ms, p, "postprocessing time")?;
    let warnings = stats::warnings(
        &WarningInputs {
            latency: Some(&latency),
            enqueue: enqueue.as_ref(),
            h2d: h2d.as_ref(),
            compute: compute.as_ref(),
            d2h: d2h.as_ref(),
        },
        unstable_cov_percent,
    );
    let qps = stats::throughput(s.len(), timings.wall_time_s);
    Ok(Report {
        schema: SCHEMA.into(),
        tool: Tool::default(),
        engine: timings.engine.clone(),
        environment,
        settings,
        results: Results {
            inferences: s.len(),
            batch: timings.batch,
            wall_time_s: timings.wall_time_s,
            throughput_qps: qps,
            throughput_images_per_s: qps * timings.batch as f64,
            latency_ms: latency,
            enqueue_ms: enqueue,
            gpu_compute_source: compute.as_ref().and(timings.gpu_compute_source.clone()),
            h2d_ms: h2d,
            transfer_source,
            gpu_compute_ms: compute,
            d2h_ms: d2h,
            preprocess_ms: pre,
            postprocess_ms: post,
        },
        warnings,
        profile: None,
    })
}

/// Column header of a summary table for `percentiles`.
pub fn table_header(percentiles: &[f64]) -> String {
    let mut h = format!("{:<16}{:>10}{:>10}{:>10}", "ms", "min", "mean", "median");
    for p in percentiles {
        let _ = write!(h, "{:>10}", format!("p{p}"));
    }
    let _ = write!(h, "{:>10}{:>8}", "max", "CoV%");
    h
}

/// One row of a summary table.
pub fn table_row(label: &str, s: &Summary) -> String {
    let mut r = format!(
        "{label:<16}{:>10.4}{:>10.4}{:>10.4}",
        s.min, s.mean, s.median
    );
    for p in &s.percentiles {
        let _ = write!(r, "{:>10.4}", p.value);
    }
    let _ = write!(r, "{:>10.4}{:>8.2}", s.max, s.cov_percent);
    r
}

impl Report {
    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let r = &self.results;
        let mut t = String::new();
        let _ = writeln!(t, "engine: {}", self.engine);
        if let Some(e) = &self.environment {
            let _ = writeln!(
                t,
                "TensorRT {} on {} (compute capability {})",
                e.tensorrt, e.gpu, e.compute_capability
            );
        }
        let st = &self.settings;
        let shape = match (st.iterations, st.duration_s) {
            (Some(n), _) => Some(format!("{n} iterations per stream")),
            (None, Some(d)) => Some(format!("{d} s")),
            _ => None,
        };
        match shape {
            Some(loop_) => {
                let _ = writeln!(
                    t,
                    "settings: warmup {} ms, {loop_}, {} stream(s), cuda graph {}, data transfers {}{}",
                    st.warmup_ms,
                    st.streams,
                    if st.cuda_graph { "on" } else { "off" },
                    if st.data_transfers { "on" } else { "off" },
                    st.end_to_end.as_ref().map(|i| format!(", end-to-end on {i}")).unwrap_or_default(),
                );
            }
            None if st.times_format.as_deref() == Some(super::trace::FORMAT) => {
                let _ = writeln!(
                    t,
                    "settings: imported trtexec trace (latency = H2D + GPU compute + D2H, as trtexec defines it)"
                );
            }
            None => {
                let _ = writeln!(t, "settings: imported times ({} stream(s))", st.streams);
            }
        }
        let _ = writeln!(
            t,
            "throughput: {:.2} qps, {:.2} images/s ({} inferences of batch {} in {:.3} s)",
            r.throughput_qps, r.throughput_images_per_s, r.inferences, r.batch, r.wall_time_s
        );
        let _ = writeln!(t, "{}", table_header(&st.percentiles));
        let rows: [(&str, Option<&Summary>); 7] = [
            ("latency", Some(&r.latency_ms)),
            ("enqueue", r.enqueue_ms.as_ref()),
            (
                if r.transfer_source.as_deref() == Some("probe") {
                    "H2D (probe)"
                } else {
                    "H2D"
                },
                r.h2d_ms.as_ref(),
            ),
            (
                if r.gpu_compute_source.as_deref() == Some("derived") {
                    "GPU compute*"
                } else {
                    "GPU compute"
                },
                r.gpu_compute_ms.as_ref(),
            ),
            (
                if r.transfer_source.as_deref() == Some("probe") {
                    "D2H (probe)"
                } else {
                    "D2H"
                },
                r.d2h_ms.as_ref(),
            ),
            ("preprocess", r.preprocess_ms.as_ref()),
            ("postprocess", r.postprocess_ms.as_ref()),
        ];
        for (label, s) in rows {
            if let Some(s) = s {
                let _ = writeln!(t, "{}", table_row(label, s));
            }
        }
        if r.gpu_compute_source.as_deref() == Some("derived") {
            let _ = writeln!(
                t,
                "* GPU compute derived from event-timed GPU span minus median H2D and D2H"
            );
        }
        for w in &self.warnings {
            let _ = writeln!(t, "warning [{}]: {}", w.kind, w.message);
        }
        t
    }
}
