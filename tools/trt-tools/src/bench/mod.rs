//! `trt-bench`: trtexec-grade latency / throughput measurements of TensorRT engines and side-by-side comparisons.
//!
//! * [`stats`]: percentiles, CoV, throughput, warnings (pure, unit-tested);
//! * [`report`]: raw timings, the report, the human table and the `--json` schema;
//! * [`trace`]: trtexec's `--exportTimes` trace, written and read;
//! * [`profile`]: per-layer times (TensorRT's profiler) summarized, as a table and trtexec's `--exportProfile` file;
//! * [`compare`]: interleaved comparisons and the ratio table;
//! * [`onnx_check`]: `--compare-onnx`, the engine's outputs against the CPU executor's (Polygraphy's check);
//! * [`mod@run`]: the timing loop on `trt::Session`; [`io`]: inputs / outputs (`.npy`, raw).

pub mod compare;
pub mod io;
pub mod onnx_check;
pub mod profile;
pub mod report;
pub mod run;
pub mod stats;
pub mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Parser, ValueEnum};

use crate::common::plugins::PluginArgs;
use crate::common::{exit, fs, output};
use report::{Environment, Report, Settings, Timings, TransferProbe};
use run::{EngineBench, SessionRunner, Stop};

const AFTER_HELP: &str = "\
Examples:
  trt-bench yolov7.engine --duration 5 --percentiles 90,95,99
  trt-bench yolov7.engine --shapes images:4x3x640x640 --streams 2 --cuda-graph --json
  trt-bench --compare unfused.engine fused.engine --iterations 2000
  trt-bench yolov7.fp16.engine --compare-onnx yolov7.fused.onnx --atol 1e-2 --rtol 1e-2   (Polygraphy-style check)
  trt-bench --loadEngine=yolov8n.engine        (an engine from trtexec or Ultralytics: no sidecar, no provenance checks)
  trt-bench yolov7.engine --end-to-end street.jpg
  trt-bench yolov7.engine --exportTimes=trace.json --dumpProfile --exportProfile=profile.json   (trtexec's files)
  trt-bench yolov7.engine --loadInputs=images:frame.bin
  trt-bench --import-times run.json          (re-analyse times written by --export-times, or by trtexec
                                              --exportTimes; no GPU needed)

Times files: --export-times writes trt-bench's own file (schema trt-bench-times/1: every sample, host latency,
streams, batch, wall time); --export-times-format trtexec, or trtexec's spelling --exportTimes, writes trtexec's
trace instead: one object per inference with startEnqMs/endEnqMs (host), startH2dMs … endD2hMs (GPU events), h2dMs,
computeMs, d2hMs and latencyMs, which is trtexec's latency (H2D + GPU compute + D2H), not trt-bench's host latency.
Phases a CUDA graph replay does not separate are null, never invented; --no-data-transfers writes 0 ms copies.
--import-times reads either (a JSON array is trtexec's trace).

Per-layer profile: --dump-profile / --export-profile run a separate profiling pass after the timing loop (like
trtexec), on a new one-stream session without CUDA graph, for the same --iterations / --duration after the warm-up,
so the profiler never disturbs the measured latencies. Layers are listed in execution order; engines built without
detailed profiling verbosity report the names TensorRT chooses.

Statistics: nearest-rank percentiles (like trtexec), median of the two middle samples for even counts, CoV = population
standard deviation / mean. Warnings: unstable (CoV above --unstable-threshold), enqueue-bound, transfer-bound.

Exit codes: 0 ok, 1 failed build or invalid input, 2 usage error, 3 TensorRT, CUDA or a usable GPU missing on this machine.";

/// Measure the latency and throughput of TensorRT engines.
#[derive(Debug, Parser)]
#[command(name = "trt-bench", version, after_long_help = AFTER_HELP, after_help = exit::HELP)]
#[command(group(ArgGroup::new("times_out").multiple(false)))]
pub struct Opts {
    /// The engine to measure (its sidecar `<engine>.json` must be next to it, unless --no-sidecar).
    #[arg(value_name = "ENGINE", required_unless_present_any = ["compare", "import_times", "load_engine"])]
    pub engine: Option<PathBuf>,
    /// trtexec's spelling of ENGINE (`--loadEngine=model.engine`): an engine without a sidecar (trtexec's own, say)
    /// is then loaded as with --no-sidecar.
    #[arg(long, value_name = "ENGINE", alias = "loadEngine", conflicts_with_all = ["engine", "compare", "import_times"])]
    pub load_engine: Option<PathBuf>,
    #[command(flatten)]
    pub sidecar: crate::common::engine::SidecarArgs,
    /// Measure these engines with the same workload, interleaved, and print a ratio table (first = baseline).
    #[arg(long, num_args = 2.., value_name = "ENGINE", conflicts_with_all = ["engine", "import_times", "save_outputs"])]
    pub compare: Vec<PathBuf>,
    /// Instead of timing: run the engine and the CPU executor on MODEL (the ONNX it was built from; trt-build
    /// --emit-onnx writes the one TensorRT parsed) with the same inputs and compare every output (max / mean abs,
    /// max rel, cosine); exit 1 when an element is beyond --atol + --rtol × the output's largest |value|.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["compare", "import_times", "end_to_end", "export_times", "export_times_trtexec", "dump_profile", "export_profile", "save_outputs", "load_inputs"])]
    pub compare_onnx: Option<PathBuf>,
    /// --compare-onnx: absolute tolerance (FP16 engines typically need 1e-2, INT8 more).
    #[arg(
        long,
        value_name = "A",
        default_value_t = 1e-3,
        requires = "compare_onnx"
    )]
    pub atol: f64,
    /// --compare-onnx: tolerance relative to each output's largest |value|.
    #[arg(
        long,
        value_name = "R",
        default_value_t = 1e-3,
        requires = "compare_onnx"
    )]
    pub rtol: f64,
    /// --compare-onnx: random-input runs, then as many image-like ones.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "compare_onnx", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub compare_runs: u32,
    /// Re-analyse a times file (no TensorRT or GPU needed): trt-bench's (--export-times) or trtexec's trace
    /// (trtexec --exportTimes); with --export-times, convert it.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "engine",
        alias = "importTimes"
    )]
    pub import_times: Option<PathBuf>,
    /// Warm-up time before measuring, milliseconds (at least one inference runs).
    #[arg(long, value_name = "MS", default_value_t = 200, alias = "warmUp")]
    pub warmup: u64,
    /// Measure this many inferences per stream.
    #[arg(long, value_name = "N", conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Measure for this many seconds (default 3).
    #[arg(long, value_name = "S", value_parser = positive_seconds)]
    pub duration: Option<f64>,
    /// Concurrent streams, one execution context each.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub streams: u32,
    /// Replay the inference as a CUDA graph.
    #[arg(long, alias = "useCudaGraph")]
    pub cuda_graph: bool,
    /// No H2D / D2H copies: the engine reads and writes mapped pinned host memory (zero-copy; on a discrete GPU
    /// those accesses cross PCIe inside the engine's time).
    #[arg(long, alias = "noDataTransfers")]
    pub no_data_transfers: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
    #[command(flatten)]
    pub runtime_cache: crate::common::plugins::RuntimeCacheArgs,
    /// Percentiles to report, comma-separated.
    #[arg(long, value_name = "P,P,…", default_value = "90,95,99", value_parser = parse_percentiles, alias = "percentile")]
    pub percentiles: PercentileList,
    /// Shapes of dynamic inputs: `name:1x3x640x640[,name2:…]`.
    #[arg(long, value_name = "SPECS", value_parser = parse_shapes)]
    pub shapes: Option<ShapeList>,
    /// Read inputs from DIR (`<input>.npy`, or raw `<input>.bin` / `<input>.raw`: engine dtype, little-endian), or
    /// trtexec's `name:file[,name2:file2]` (`.npy` by extension, any other file raw; inputs not named get random
    /// data; quote a name holding `:` as `'in:0':x.bin`).
    #[arg(
        long,
        value_name = "DIR|NAME:FILE,…",
        alias = "loadInputs",
        conflicts_with = "end_to_end",
        value_parser = parse_load_inputs
    )]
    pub load_inputs: Option<io::InputSource>,
    /// Write the outputs of the last inference to DIR as `<output>.npy`.
    #[arg(long, value_name = "DIR", alias = "saveOutputs")]
    pub save_outputs: Option<PathBuf>,
    /// Include yolo-rt's letterbox of IMAGE and the decode + NMS of the outputs in every measured inference.
    #[arg(long, value_name = "IMAGE")]
    pub end_to_end: Option<PathBuf>,
    /// Print the report as JSON (schema `trt-bench/1`, or `trt-bench-compare/1` with --compare).
    #[arg(long)]
    pub json: bool,
    /// Write every raw sample to FILE: trt-bench's times file (schema `trt-bench-times/1`) unless
    /// --export-times-format trtexec.
    #[arg(long, value_name = "FILE", group = "times_out")]
    pub export_times: Option<PathBuf>,
    /// trtexec's spelling: write trtexec's times trace to FILE (as --export-times FILE --export-times-format
    /// trtexec; an explicit --export-times-format wins).
    #[arg(long = "exportTimes", value_name = "FILE", group = "times_out")]
    pub export_times_trtexec: Option<PathBuf>,
    /// The layout of the times file: `trt-bench` (every sample, host latency; the default of --export-times) or
    /// `trtexec` (trtexec's trace; the default of --exportTimes). See the section below.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "times_out")]
    pub export_times_format: Option<TimesFormat>,
    /// Print per-layer GPU times (TensorRT's profiler) from a separate profiling pass after the timing loop, as a
    /// table like trtexec's; with --json, the report's `profile`.
    #[arg(long, alias = "dumpProfile", conflicts_with_all = ["compare", "import_times"])]
    pub dump_profile: bool,
    /// Write the per-layer profile to FILE in trtexec's --exportProfile layout (`[{"count": N}, {"name", "timeMs",
    /// "averageMs", "medianMs", "percentage"}, …]`); with --json, also the report's `profile`.
    #[arg(
        long,
        value_name = "FILE",
        alias = "exportProfile",
        conflicts_with_all = ["compare", "import_times"]
    )]
    pub export_profile: Option<PathBuf>,
    /// CoV of GPU compute time (or latency) above which the run is flagged unstable, percent.
    #[arg(long, value_name = "PCT", default_value_t = stats::DEFAULT_UNSTABLE_COV_PERCENT)]
    pub unstable_threshold: f64,
    /// Interleaving rounds for --compare.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub rounds: u32,
}

/// The layout of `--export-times`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimesFormat {
    /// trt-bench's own times file (`trt-bench-times/1`).
    #[value(name = "trt-bench")]
    TrtBench,
    /// trtexec's `--exportTimes` trace.
    Trtexec,
}

/// Parsed `--percentiles`.
#[derive(Debug, Clone)]
pub struct PercentileList(pub Vec<f64>);
/// Parsed `--shapes`.
#[derive(Debug, Clone)]
pub struct ShapeList(pub Vec<(String, Vec<i64>)>);

fn parse_percentiles(s: &str) -> Result<PercentileList, String> {
    stats::parse_percentiles(s).map(PercentileList)
}

fn parse_load_inputs(s: &str) -> Result<io::InputSource, String> {
    io::InputSource::parse(s)
}

fn parse_shapes(s: &str) -> Result<ShapeList, String> {
    run::parse_shapes(s).map(ShapeList)
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    /// A year: far beyond any benchmark, far below what `Duration` holds.
    const MAX_SECONDS: f64 = 365.0 * 86_400.0;
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= MAX_SECONDS => Ok(v),
        Ok(v) if v > MAX_SECONDS => Err(format!(
            "`{s}` seconds is more than a year; give a duration of at most {MAX_SECONDS} seconds"
        )),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}

/// `trt-bench`'s command line, validated: what to measure and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Re-analyse this times file (`--import-times`) instead of measuring.
    pub import_times: Option<PathBuf>,
    /// The engines to measure, in order (one, or the `--compare` list).
    pub engines: Vec<PathBuf>,
    /// Per engine: load it without its sidecar (`--no-sidecar`, or `--loadEngine` of an engine that has none).
    pub without_sidecar: Vec<bool>,
    /// What was asked for, as the report states it.
    pub settings: Settings,
    /// When the measured phase ends.
    pub stop: Stop,
    /// The engine path's settings.
    pub engine_bench: EngineBench,
    /// Warm-up time before measuring.
    pub warmup: Duration,
    /// `--plugins`.
    pub plugins: PluginArgs,
    /// `--runtime-cache` / `--no-runtime-cache`.
    pub runtime_cache: trt::RuntimeCache,
    /// `--no-data-transfers`.
    pub no_data_transfers: bool,
    /// `--save-outputs DIR`.
    pub save_outputs: Option<PathBuf>,
    /// `--export-times FILE` / `--exportTimes FILE`, and its layout.
    pub export_times: Option<(PathBuf, TimesFormat)>,
    /// `--dump-profile`.
    pub dump_profile: bool,
    /// `--export-profile FILE`.
    pub export_profile: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
    /// `--unstable-threshold`, percent.
    pub unstable_threshold: f64,
    /// `--rounds` (comparisons only).
    pub rounds: u32,
    /// `--compare-onnx`.
    pub onnx_check: Option<onnx_check::OnnxCheck>,
}

impl Config {
    /// Validates the command line; the input paths are checked before TensorRT is touched (exit code 1 on any
    /// machine).
    pub fn new(opts: Opts) -> Result<Config> {
        check_paths(&opts)?;
        let engines: Vec<PathBuf> = if opts.compare.is_empty() {
            opts.engine
                .iter()
                .chain(&opts.load_engine)
                .cloned()
                .collect()
        } else {
            opts.compare.clone()
        };
        let implicit = opts.load_engine.is_some();
        let export_times = match (&opts.export_times, &opts.export_times_trtexec) {
            (Some(p), _) => Some((
                p.clone(),
                opts.export_times_format.unwrap_or(TimesFormat::TrtBench),
            )),
            (None, Some(p)) => Some((
                p.clone(),
                opts.export_times_format.unwrap_or(TimesFormat::Trtexec),
            )),
            (None, None) => None,
        };
        Ok(Config {
            settings: opts.settings(),
            stop: opts.stop(),
            engine_bench: opts.engine_bench(),
            without_sidecar: engines
                .iter()
                .map(|e| opts.sidecar.without_sidecar(e, implicit))
                .collect(),
            engines,
            import_times: opts.import_times,
            warmup: Duration::from_millis(opts.warmup),
            runtime_cache: opts.runtime_cache.policy(),
            plugins: opts.plugins,
            no_data_transfers: opts.no_data_transfers,
            save_outputs: opts.save_outputs,
            export_times,
            dump_profile: opts.dump_profile,
            export_profile: opts.export_profile,
            json: opts.json,
            unstable_threshold: opts.unstable_threshold,
            rounds: opts.rounds,
            onnx_check: opts.compare_onnx.map(|model| onnx_check::OnnxCheck {
                model,
                atol: opts.atol,
                rtol: opts.rtol,
                runs: opts.compare_runs as usize,
                shapes: opts.shapes.map(|s| s.0).unwrap_or_default(),
            }),
        })
    }
}

/// `main` of `trt-bench`.
pub fn main() -> ExitCode {
    exit::main("trt-bench", |opts: Opts| {
        crate::common::tracing::init(false, false);
        run(Config::new(opts)?)
    })
}

impl Opts {
    fn settings(&self) -> Settings {
        Settings {
            warmup_ms: self.warmup,
            iterations: self.iterations,
            duration_s: if self.iterations.is_some() {
                None
            } else {
                Some(self.duration.unwrap_or(3.0))
            },
            streams: self.streams as usize,
            cuda_graph: self.cuda_graph,
            data_transfers: !self.no_data_transfers,
            percentiles: self.percentiles.0.clone(),
            shapes: self
                .shapes
                .as_ref()
                .map(|s| {
                    s.0.iter()
                        .map(|(n, d)| format!("{n}:{}", crate::shapes::dims_to_string(d)))
                        .collect()
                })
                .unwrap_or_default(),
            inputs: self
                .load_inputs
                .as_ref()
                .map_or("random".into(), io::InputSource::describe),
            end_to_end: self.end_to_end.as_ref().map(|p| p.display().to_string()),
            times_format: None,
        }
    }

    fn stop(&self) -> Stop {
        match self.iterations {
            Some(n) => Stop::Iterations(n),
            None => Stop::Duration(Duration::from_secs_f64(self.duration.unwrap_or(3.0))),
        }
    }

    fn engine_bench(&self) -> EngineBench {
        EngineBench {
            streams: self.streams as usize,
            cuda_graph: self.cuda_graph,
            data_transfers: !self.no_data_transfers,
            shapes: self
                .shapes
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            load_inputs: self.load_inputs.clone(),
            end_to_end: self.end_to_end.clone(),
            trace: self.export_times.is_some() || self.export_times_trtexec.is_some(),
            layer_profiling: false,
        }
    }
}

fn print_report(cfg: &Config, text: String, json: impl serde::Serialize) -> Result<()> {
    if cfg.json {
        // trt-bench's documents carry their own `schema` field (`trt-bench/1`, `trt-bench-compare/1`).
        output::print_document(&json)
    } else {
        output::print_out(&text)
    }
}

/// Checks the input paths before TensorRT is touched (exit code 1 on any machine).
fn check_paths(cli: &Opts) -> Result<()> {
    if let Some(src) = &cli.load_inputs {
        src.check()?;
    }
    if let Some(i) = &cli.end_to_end {
        if !i.is_file() {
            bail!("--end-to-end {}: image not found", i.display());
        }
    }
    if let Some(m) = &cli.compare_onnx {
        onnx_check::check_path(m)?;
    }
    for (flag, v) in [("--atol", cli.atol), ("--rtol", cli.rtol)] {
        if v.is_nan() || v < 0.0 {
            return Err(exit::usage(format!(
                "{flag} {v}: a tolerance is a number ≥ 0"
            )));
        }
    }
    if !cli.unstable_threshold.is_finite() || cli.unstable_threshold < 0.0 {
        bail!(
            "--unstable-threshold {} must be a non-negative percentage",
            cli.unstable_threshold
        );
    }
    Ok(())
}

/// Runs `trt-bench`; returns the exit code.
pub fn run(cfg: Config) -> Result<ExitCode> {
    if let Some(path) = &cfg.import_times {
        let (t, format) = Timings::read_detect(path)?;
        let mut settings = cfg.settings.clone();
        settings.iterations = None;
        settings.duration_s = None;
        settings.warmup_ms = 0;
        settings.streams = t.streams;
        settings.times_format = Some(format.into());
        let report = report::analyze(&t, settings, None, cfg.unstable_threshold)
            .with_context(|| format!("analysing {}", path.display()))?;
        if let Some((out, format)) = &cfg.export_times {
            write_times(&t, out, *format)?;
        }
        print_report(&cfg, report.to_text(), &report)?;
        return Ok(ExitCode::from(exit::OK));
    }
    let engines = &cfg.engines;
    // --compare-onnx: the model must run on the CPU executor before TensorRT is needed.
    let executor = cfg.onnx_check.as_ref().map(|c| c.precheck()).transpose()?;
    let mut needs_standard_plugins = false;
    for (e, &foreign) in engines.iter().zip(&cfg.without_sidecar) {
        if foreign {
            crate::common::engine::precheck_foreign(e)?;
        } else {
            let sidecar = run::precheck_engine(e)?;
            needs_standard_plugins |= !sidecar.plugins.is_empty();
        }
    }
    cfg.plugins.check()?;
    let lib = run::load_library(
        needs_standard_plugins,
        &cfg.plugins,
        cfg.runtime_cache.clone(),
    )?;
    if cfg.without_sidecar.contains(&true) {
        run::init_plugins_if_present(&lib);
    }
    let runtime = lib.runtime().context("creating the TensorRT runtime")?;
    let loaded = engines
        .iter()
        .zip(&cfg.without_sidecar)
        .map(|(e, &foreign)| {
            if foreign {
                crate::common::engine::warn_unchecked(e);
                runtime.load_engine_without_sidecar(e)
            } else {
                runtime.load_engine(e)
            }
            .with_context(|| format!("loading {}", e.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    if let (Some(check), Some(exec)) = (&cfg.onnx_check, &executor) {
        let report = onnx_check::compare(&loaded[0], exec, check).with_context(|| {
            format!(
                "comparing {} with {}",
                engines[0].display(),
                check.model.display()
            )
        })?;
        if cfg.json {
            #[derive(serde::Serialize)]
            struct Doc<'a> {
                engine: String,
                model: String,
                #[serde(flatten)]
                report: &'a yolo_onnx::verify::VerifyReport,
            }
            output::print_json(
                "trt-bench-compare-onnx/1",
                &Doc {
                    engine: engines[0].display().to_string(),
                    model: check.model.display().to_string(),
                    report: &report,
                },
            )?;
        } else {
            output::print_out(&format!(
                "{} against {} (CPU executor)\n{}",
                engines[0].display(),
                check.model.display(),
                report.to_text()
            ))?;
        }
        return Ok(ExitCode::from(if report.passed {
            exit::OK
        } else {
            exit::FAILURE
        }));
    }
    let device = lib.device()?;
    let env = Environment {
        tensorrt: lib.tensorrt_version().to_string(),
        gpu: device.name().to_string(),
        compute_capability: device.compute_capability().to_string(),
    };
    if cfg.no_data_transfers && !device.properties().integrated {
        tracing::warn!(
            "--no-data-transfers on a discrete GPU: the engine reads and writes mapped host memory over PCIe, so its \
             time includes those accesses"
        );
    }
    let bench = &cfg.engine_bench;
    let mut runners = Vec::new();
    for (e, path) in loaded.iter().zip(engines) {
        runners.push(
            SessionRunner::new(e, bench)
                .with_context(|| format!("setting up {}", path.display()))?,
        );
    }
    for r in runners.iter_mut() {
        run::warm_up(r, cfg.warmup)?;
    }
    let rounds = if engines.len() > 1 {
        cfg.rounds as usize
    } else {
        1
    };
    let chunks: Vec<Stop> = match cfg.stop {
        Stop::Iterations(n) => compare::split_iterations(n, rounds)
            .into_iter()
            .map(Stop::Iterations)
            .collect(),
        Stop::Duration(d) => vec![Stop::Duration(d / rounds as u32); rounds],
    };
    let mut samples = vec![Vec::new(); runners.len()];
    let mut walls = vec![Duration::ZERO; runners.len()];
    for (i, which) in compare::schedule(runners.len(), rounds)
        .into_iter()
        .enumerate()
    {
        let chunk = chunks[i / runners.len()];
        if chunk == Stop::Iterations(0) {
            continue;
        }
        let (s, w) = run::measure(&mut runners[which], chunk)?;
        samples[which].extend(s);
        walls[which] += w;
    }
    if let Some(dir) = &cfg.save_outputs {
        let written = runners[0].save_outputs(dir)?;
        for w in written {
            eprintln!("trt-bench: wrote {}", w.display());
        }
    }
    let mut reports = Vec::new();
    for (k, runner) in runners.iter().enumerate() {
        let name = engines[k].display().to_string();
        let batch = batch_of(&loaded[k], bench);
        let mut t = run::timings(
            &name,
            batch,
            bench.streams,
            std::mem::take(&mut samples[k]),
            walls[k],
        );
        if t.samples.iter().any(|x| x.compute_ms.is_some()) {
            t.gpu_compute_source = Some("events".into());
        }
        let per_inference_copies = t.samples.iter().any(|x| x.h2d_ms.is_some());
        if bench.data_transfers && !per_inference_copies {
            let (ib, ob) = runner.io_bytes()?;
            let reps = t.samples.len().clamp(10, 200);
            let (h, d) = run::probe_transfers(lib.device()?, ib, ob, reps)
                .context("timing H2D / D2H copies")?;
            t.transfer_probe = Some(TransferProbe {
                input_bytes: ib,
                output_bytes: ob,
                h2d_ms: h,
                d2h_ms: d,
            });
        }
        if let Some((path, format)) = &cfg.export_times {
            let path = if engines.len() > 1 {
                numbered(path, k)
            } else {
                path.clone()
            };
            write_times(&t, &path, *format)?;
        }
        reports.push(report::analyze(
            &t,
            cfg.settings.clone(),
            Some(env.clone()),
            cfg.unstable_threshold,
        )?);
    }
    if engines.len() > 1 {
        let c = compare::CompareReport::new(reports, rounds);
        print_report(&cfg, c.to_text(), &c)?;
    } else {
        let mut r: Report = reports.remove(0);
        let mut text = r.to_text();
        if cfg.dump_profile || cfg.export_profile.is_some() {
            drop(runners);
            let p = profile_pass(&loaded[0], &cfg).context("the per-layer profiling pass")?;
            if let Some(path) = &cfg.export_profile {
                fs::atomic_write(path, p.to_trtexec_json().as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if cfg.dump_profile {
                text.push('\n');
                text.push_str(&p.to_text());
            }
            r.profile = Some(p);
        }
        print_report(&cfg, text, &r)?;
    }
    Ok(ExitCode::from(exit::OK))
}

/// The per-layer profiling pass, after the timing loop (like trtexec): a new one-stream session with TensorRT's
/// profiler and plain enqueues (no CUDA graph), the same inputs, warm-up (its layer times dropped) and
/// `--iterations` / `--duration` as the measured phase.
fn profile_pass(engine: &trt::Engine, cfg: &Config) -> Result<profile::LayerProfile> {
    let bench = EngineBench {
        streams: 1,
        cuda_graph: false,
        trace: false,
        layer_profiling: true,
        ..cfg.engine_bench.clone()
    };
    let mut runner = SessionRunner::new(engine, &bench)?;
    run::warm_up(&mut runner, cfg.warmup)?;
    runner.reset_layer_times()?;
    run::measure(&mut runner, cfg.stop)?;
    let times = runner
        .layer_times()?
        .context("the profiling session collected no layer times")?;
    profile::summarize(&times)
}

/// Writes `t` to `path` in `format` (atomically).
fn write_times(t: &Timings, path: &Path, format: TimesFormat) -> Result<()> {
    let text = match format {
        TimesFormat::TrtBench => serde_json::to_string_pretty(t)?,
        TimesFormat::Trtexec => trace::to_trtexec(t)
            .with_context(|| format!("writing trtexec's trace {}", path.display()))?,
    };
    fs::atomic_write(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// `times.json` → `times.1.json` for the second engine of a comparison.
fn numbered(path: &Path, k: usize) -> PathBuf {
    if k == 0 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(e) => format!("{stem}.{k}.{}", e.to_string_lossy()),
        None => format!("{stem}.{k}"),
    };
    path.with_file_name(name)
}

fn batch_of(engine: &trt::Engine, cfg: &EngineBench) -> usize {
    let Some(first) = engine.inputs().next() else {
        return 1;
    };
    let d0 = cfg
        .shapes
        .iter()
        .find(|(n, _)| *n == first.name)
        .and_then(|(_, d)| d.first().copied())
        .or_else(|| first.shape.first().copied().filter(|&d| d > 0))
        .or_else(|| first.profiles.first().and_then(|p| p.max.first().copied()));
    d0.and_then(|d| usize::try_from(d).ok())
        .filter(|&d| d > 0)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_positive_and_bounded() {
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
        for bad in ["0", "-1", "nan", "inf", "1e20", "x"] {
            assert!(positive_seconds(bad).is_err(), "{bad}");
        }
        assert!(positive_seconds("1e20")
            .unwrap_err()
            .contains("more than a year"));
    }

    #[test]
    fn runtime_cache_flags_choose_the_policy() {
        use clap::Parser;
        let p = |args: &[&str]| {
            let mut v = vec!["trt-bench", "m.engine"];
            v.extend_from_slice(args);
            Opts::try_parse_from(v).map(|c| c.runtime_cache.policy())
        };
        assert_eq!(p(&[]).unwrap(), trt::RuntimeCache::BesideEngine);
        assert_eq!(
            p(&["--runtime-cache", "/tmp/c.bin"]).unwrap(),
            trt::RuntimeCache::File("/tmp/c.bin".into())
        );
        assert_eq!(
            p(&["--runtimeCachePath=/tmp/c.bin"]).unwrap(),
            trt::RuntimeCache::File("/tmp/c.bin".into())
        );
        assert_eq!(p(&["--no-runtime-cache"]).unwrap(), trt::RuntimeCache::Off);
        assert!(p(&["--no-runtime-cache", "--runtime-cache", "x"]).is_err());
    }

    #[test]
    fn times_format_follows_the_spelling_unless_given() {
        use clap::Parser;
        let f = |args: &[&str]| {
            let mut v = vec!["trt-bench", "m.engine"];
            v.extend_from_slice(args);
            let cfg = Config::new(Opts::try_parse_from(v).unwrap()).unwrap();
            (cfg.export_times, cfg.engine_bench.trace)
        };
        let p = PathBuf::from("t.json");
        assert_eq!(f(&[]), (None, false));
        assert_eq!(
            f(&["--export-times", "t.json"]),
            (Some((p.clone(), TimesFormat::TrtBench)), true)
        );
        assert_eq!(
            f(&["--exportTimes=t.json"]),
            (Some((p.clone(), TimesFormat::Trtexec)), true)
        );
        assert_eq!(
            f(&["--export-times=t.json", "--export-times-format", "trtexec"]),
            (Some((p.clone(), TimesFormat::Trtexec)), true)
        );
        assert_eq!(
            f(&["--exportTimes=t.json", "--export-times-format=trt-bench"]),
            (Some((p, TimesFormat::TrtBench)), true)
        );
        let o = Opts::try_parse_from([
            "trt-bench",
            "m.engine",
            "--loadInputs=images:a.bin,'x:0':b.npy",
        ])
        .unwrap();
        assert_eq!(
            o.load_inputs,
            Some(io::InputSource::Files(vec![
                ("images".into(), "a.bin".into()),
                ("x:0".into(), "b.npy".into())
            ]))
        );
        let o = Opts::try_parse_from([
            "trt-bench",
            "m.engine",
            "--dumpProfile",
            "--exportProfile=p.json",
        ])
        .unwrap();
        assert!(o.dump_profile);
        assert_eq!(o.export_profile, Some(PathBuf::from("p.json")));
    }

    #[test]
    fn long_help_keeps_the_exit_codes() {
        assert!(AFTER_HELP.ends_with(exit::HELP));
    }

    #[test]
    fn numbered_names() {
        assert_eq!(
            numbered(Path::new("a/t.json"), 2),
            PathBuf::from("a/t.2.json")
        );
        assert_eq!(numbered(Path::new("t.json"), 0), PathBuf::from("t.json"));
    }
}
