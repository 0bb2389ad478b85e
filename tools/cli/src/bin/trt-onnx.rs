//! `trt-onnx`: prepare ONNX models for TensorRT without TensorRT — fuse re-parameterizable blocks,
//! convert to FP16, inspect, verify numerically and benchmark on the CPU executor.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde::Serialize;
use trt_tools::build::pipeline::IoSummary;
use trt_tools::{exit, is_broken_pipe, print_json, print_out};
use yolo_onnx::exec::{check_supported_ops, ExecOptions, Executor};
use yolo_onnx::fp16::{self, Fp16Options, Fp16Report};
use yolo_onnx::passes::{self, lint::LintWarning, FuseOptions, FuseReport};
use yolo_onnx::verify::{self, VerifyOptions, VerifyReport};
use yolo_onnx::Model;

/// Prepare ONNX models for TensorRT on any machine: re-parameterize (fuse), convert to FP16, inspect,
/// verify and benchmark on a pure-Rust CPU executor (tract).
#[derive(Debug, Parser)]
#[command(name = "trt-onnx", version, after_help = exit::HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fuse Conv+BN, RepConv branches and YOLOv7 implicit layers; verifies the result on CPU unless --no-verify.
    Fuse {
        /// Input model.
        input: PathBuf,
        /// Output model (written atomically; nothing is written if fusion or verification fails).
        #[arg(short, long)]
        output: PathBuf,
        /// Require the verification: a model the CPU executor cannot run is then an error (by default it is
        /// written with a warning saying why it was not verified).
        #[arg(long, overrides_with = "no_verify")]
        verify: bool,
        /// Skip the numerical verification.
        #[arg(long)]
        no_verify: bool,
        /// Input shapes for the verification run, trtexec syntax (`images:1x3x640x640[,other:…]`); dynamic
        /// dimensions not given are chosen: batch 1, height and width from the model's `imgsz` metadata, else 640.
        #[arg(long, value_name = "NAME:AxBxC[,…]")]
        shapes: Option<String>,
        /// Keep YOLOv9's auxiliary training head (a DualDDetect export); by default the main head is kept and the
        /// auxiliary one dropped (reported), as YOLOv9's own re-parameterization does.
        #[arg(long)]
        keep_aux_head: bool,
        /// Absolute tolerance of the verification (elements fail beyond tol + rtol·scale, scale = the output's
        /// largest magnitude).
        #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
        tol: f64,
        /// Relative tolerance of the verification, relative to each output's scale.
        #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
        rtol: f64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Convert to FP16 compute, keeping FP32 where FP16 breaks (ranges, reductions, YOLO decode).
    Fp16 {
        /// Input model.
        input: PathBuf,
        /// Output model.
        #[arg(short, long)]
        output: PathBuf,
        /// Make graph inputs and outputs FLOAT16 too.
        #[arg(long)]
        io_fp16: bool,
        /// Keep nodes whose name or op type matches this glob in FP32 (repeatable).
        #[arg(long = "keep-fp32", value_name = "PATTERN", num_args = 1..)]
        keep_fp32: Vec<String>,
        /// Convert the YOLO decode tail to FP16 as well (coordinates lose precision).
        #[arg(long)]
        decode_fp16: bool,
        /// Do not run the model on CPU to find activations that overflow FP16.
        #[arg(long)]
        no_probe: bool,
        /// Do not compare the FP16 model with the input on CPU.
        #[arg(long)]
        no_verify: bool,
        /// Input shapes for the CPU runs, trtexec syntax (`images:1x3x640x640[,other:…]`); dynamic dimensions not
        /// given are chosen: batch 1, height and width from the model's `imgsz` metadata, else 640.
        #[arg(long, value_name = "NAME:AxBxC[,…]")]
        shapes: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show op histogram, inputs/outputs, fusible patterns and lint warnings.
    Inspect {
        /// Model to inspect.
        input: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run two models on the same random and image-like inputs; exit 1 beyond tolerance.
    Verify {
        /// Reference model.
        a: PathBuf,
        /// Model to check.
        b: PathBuf,
        /// Absolute tolerance (elements fail beyond tol + rtol·scale, scale = the output's largest magnitude).
        #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
        tol: f64,
        /// Relative tolerance, relative to each output's scale.
        #[arg(long, default_value_t = 1e-4, value_parser = parse_tolerance)]
        rtol: f64,
        /// Runs per input kind (random, image-like).
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Input shapes for the CPU runs, trtexec syntax (`images:1x3x640x640[,other:…]`); dynamic dimensions not
        /// given are chosen: batch 1, height and width from the model's `imgsz` metadata, else 640.
        #[arg(long, value_name = "NAME:AxBxC[,…]")]
        shapes: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// CPU latency of one model, or two side by side with their ratio (a CPU ratio, not a GPU one).
    Bench {
        /// First model.
        a: PathBuf,
        /// Optional second model.
        b: Option<PathBuf>,
        /// Timed iterations per model.
        #[arg(long, default_value_t = 20)]
        iterations: usize,
        /// Untimed warm-up iterations per model.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// INT8: calibrate on images or .npy tensors (CPU) and write a Q/DQ ONNX, optionally a TensorRT calibration cache.
    Quantize(Box<QuantizeArgs>),
    /// Write a generated YOLO-style test model.
    Sample {
        /// Output model.
        #[arg(short, long)]
        output: PathBuf,
        /// Kind of model.
        #[arg(long, default_value = "repconv", value_parser = clap::builder::PossibleValuesParser::new(yolo_onnx::testgen::SAMPLE_KINDS))]
        kind: String,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// `trt-onnx quantize` options.
#[derive(Debug, clap::Args)]
pub struct QuantizeArgs {
    /// FP32 (re-parameterized) input model.
    pub input: PathBuf,
    /// Calibration data: a directory of images (jpg, png, bmp; recursive) or .npy tensors.
    #[arg(long, value_name = "DIR")]
    pub calib: PathBuf,
    /// Output Q/DQ model (written atomically; nothing is written on failure).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write a TensorRT calibration cache (TensorRT 8.5-10.x calibrator path).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// TensorRT release the cache header names (X.Y or X.Y.Z); TensorRT skips caches of another release.
    #[arg(long, value_name = "X.Y[.Z]", default_value = "10.3.0")]
    pub cache_trt: String,
    /// Threshold algorithm (minmax is the YOLO default: entropy costs YOLO models 10-20% mAP).
    #[arg(long, value_enum, default_value = "minmax")]
    pub algo: trt_tools::build::options::CalibAlgo,
    /// Percentile of --algo percentile, in (0, 100].
    #[arg(long, default_value_t = yolo_onnx::quant::algo::DEFAULT_PERCENTILE, value_parser = parse_percentile)]
    pub percentile: f64,
    /// Keep nodes whose name or op type matches this glob in floating point (repeatable).
    #[arg(long, value_name = "PATTERN", num_args = 1..)]
    pub exclude: Vec<String>,
    /// Quantize the detection head's final convolutions and the decode too (kept float by default).
    #[arg(long)]
    pub quantize_head: bool,
    /// Calibration samples (default: all files).
    #[arg(long)]
    pub count: Option<usize>,
    /// Files held out for the drift check (at most a quarter of the files).
    #[arg(long, default_value_t = 4)]
    pub held_out: usize,
    /// Seed of the file sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Samples loaded per batch.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Network input size WxH (must match the model); default: the model's input size.
    #[arg(long, value_name = "WxH", conflicts_with = "shapes")]
    pub input_size: Option<String>,
    /// Input shape for calibration, trtexec syntax (`images:1x3x640x640`); a dynamic input without it takes batch
    /// 1 and the height and width of the model's `imgsz` metadata, else 640x640.
    #[arg(long, value_name = "NAME:1x3xHxW")]
    pub shapes: Option<String>,
    /// Calibrate the model as given. By default it is re-parameterized first, exactly as trt-build does (so the
    /// Q/DQ model has no BatchNormalization left between Conv and Q/DQ, and the --cache names the tensors of the
    /// network trt-build hands TensorRT).
    #[arg(long)]
    pub no_fuse: bool,
    /// Keep YOLOv9's auxiliary training head when re-parameterizing (as trt-build --keep-aux-head).
    #[arg(long)]
    pub keep_aux_head: bool,
    /// Skip the numerical check of the re-parameterization.
    #[arg(long)]
    pub no_verify: bool,
    /// List every tensor's range (by default: a summary).
    #[arg(short, long)]
    pub verbose: bool,
    /// Letterbox padding grey level.
    #[arg(long, default_value_t = 114)]
    pub pad: u8,
    /// Per-channel mean subtracted after /255 (R,G,B).
    #[arg(long, value_name = "R,G,B", value_delimiter = ',', num_args = 3, default_values_t = [0.0, 0.0, 0.0])]
    pub mean: Vec<f32>,
    /// Per-channel std divided by after the mean (R,G,B); 0.00392157 (1/255) feeds raw 0-255 pixels.
    #[arg(long, value_name = "R,G,B", value_delimiter = ',', num_args = 3, default_values_t = [1.0, 1.0, 1.0])]
    pub std: Vec<f32>,
    /// Feed BGR instead of RGB.
    #[arg(long)]
    pub bgr: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_version(s: &str) -> anyhow::Result<(u32, u32, u32)> {
    let parts: Vec<&str> = s.split('.').collect();
    let num = |p: &str| {
        p.parse::<u32>()
            .map_err(|_| anyhow::anyhow!("--cache-trt {s}: expected X.Y or X.Y.Z"))
    };
    match parts.as_slice() {
        [a, b] => Ok((num(a)?, num(b)?, 0)),
        [a, b, c] => Ok((num(a)?, num(b)?, num(c)?)),
        _ => bail!("--cache-trt {s}: expected X.Y or X.Y.Z"),
    }
}

fn quantize(a: QuantizeArgs) -> anyhow::Result<()> {
    use trt_tools::build::options::CalibAlgo;
    use yolo_onnx::quant::{Algorithm, QdqOptions, QuantizeOptions};
    let (major, minor, patch) = parse_version(&a.cache_trt)?;
    if major >= 11 && a.cache.is_some() {
        bail!("--cache with --cache-trt {}: TensorRT 11 has no calibrators and reads no calibration cache; use the Q/DQ model", a.cache_trt);
    }
    let input_size = a
        .input_size
        .as_deref()
        .map(|s| {
            let (w, h) = s
                .split_once(['x', 'X'])
                .ok_or_else(|| anyhow::anyhow!("--input-size {s}: expected WxH"))?;
            Ok::<_, anyhow::Error>((w.parse()?, h.parse()?))
        })
        .transpose()
        .with_context(|| "--input-size: expected WxH, e.g. 640x640")?;
    let loaded = load(&a.input)?;
    let qdq = loaded
        .graph()
        .nodes()
        .iter()
        .filter(|n| n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear")
        .count();
    if qdq > 0 {
        bail!(
            "{}: the model is already quantized ({qdq} QuantizeLinear/DequantizeLinear nodes); quantizing it again \
             would stack Q/DQ pairs — quantize the FP32 model it was made from",
            a.input.display()
        );
    }
    let (shapes, chosen) = trt_tools::build::shapes::cpu_shapes(&loaded, a.shapes.as_deref())?;
    // The calibration size: --input-size, else the (given or chosen) shape of the image input.
    let input_size = match input_size {
        Some(s) => Some(s),
        None => match shapes.values().next() {
            Some(d) if shapes.len() == 1 && d.len() == 4 => {
                if d[0] != 1 {
                    bail!("--shapes: calibration runs one sample at a time; give batch 1 (e.g. {}:1x{}x{}x{})", shapes.keys().next().map_or("images", |k| k.as_str()), d[1], d[2], d[3]);
                }
                Some((d[3], d[2]))
            }
            _ => None,
        },
    };
    if !chosen.is_empty() && !a.json {
        eprintln!(
            "trt-onnx: calibrating with {} (dynamic dimensions chosen; --shapes sets them)",
            chosen.join(", ")
        );
    }
    let model = if a.no_fuse {
        loaded
    } else {
        // The same re-parameterization as trt-build's: the same graph, the same tensor names.
        let r = trt_tools::build::pipeline::reparameterize(&loaded, &shapes, a.keep_aux_head)?;
        if let Some(h) = r.aux_head.as_ref().filter(|_| !a.json) {
            eprintln!("trt-onnx: {h} (--keep-aux-head keeps it)");
        }
        let checks = trt_tools::build::pipeline::Checks {
            tool: "trt-onnx quantize",
            verify: !a.no_verify,
            quiet: a.json,
            skip_flag: "--no-fuse",
        };
        trt_tools::build::pipeline::check_reparameterized(&r, &shapes, &checks)?;
        r.model
    };
    let data = trt_tools::calib_data::DataOptions {
        count: a.count,
        held_out: a.held_out,
        seed: a.seed,
        batch_size: a.batch_size as usize,
        input_size,
        pad: a.pad,
        mean: [a.mean[0], a.mean[1], a.mean[2]],
        std: [a.std[0], a.std[1], a.std[2]],
        bgr: a.bgr,
        progress: !a.json,
        warnings: true,
    };
    let options = QuantizeOptions {
        algorithm: match a.algo {
            CalibAlgo::Minmax => Algorithm::MinMax,
            CalibAlgo::Entropy => Algorithm::Entropy,
            CalibAlgo::Percentile => {
                if !(a.percentile > 0.0 && a.percentile <= 100.0) {
                    bail!("--percentile {}: must be in (0, 100]", a.percentile);
                }
                Algorithm::Percentile(a.percentile)
            }
        },
        qdq: QdqOptions {
            exclude: a.exclude.clone(),
            keep_head_float: !a.quantize_head,
        },
        ..QuantizeOptions::default()
    };
    let version = yolo_onnx::quant::cache::version_code(major, minor, patch);
    let (q, summary) =
        trt_tools::calib_data::calibrate_dir(&model, &a.calib, &data, &options, version).map_err(
            |e| {
                if chosen.is_empty() {
                    e
                } else {
                    e.context(format!(
                        "calibrating at the chosen shape {}; give the model's size with --shapes NAME:1x3xHxW",
                        chosen.join(", ")
                    ))
                }
            },
        )?;
    // Everything is computed: now write (each file atomically).
    let bytes = q.model.to_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(cache) = &a.cache {
        trt_tools::atomic_write(cache, q.cache.to_text().as_bytes())
            .with_context(|| format!("--cache {}: cannot write", cache.display()))?;
    }
    trt_tools::atomic_write(&a.output, &bytes)
        .with_context(|| format!("writing {}", a.output.display()))?;
    if a.json {
        #[derive(Serialize)]
        struct Out<'a> {
            input: &'a Path,
            output: &'a Path,
            cache: Option<&'a Path>,
            data: &'a trt_tools::calib_data::DataSummary,
            report: &'a yolo_onnx::quant::QuantReport,
        }
        print_json(
            "trt-onnx-quantize/1",
            &Out {
                input: &a.input,
                output: &a.output,
                cache: a.cache.as_deref(),
                data: &summary,
                report: &q.report,
            },
        )?;
    } else {
        let mut s = format!(
            "calibrated on {} samples from {} ({} files, {} skipped, {} held out; {:.1} samples/s)\n",
            summary.calibration_samples,
            summary.dir.display(),
            summary.files_found,
            summary.skipped.len(),
            summary.held_out_samples,
            summary.samples_per_second
        );
        if a.verbose {
            s.push_str(&q.report.to_text());
        } else {
            for line in q.report.summary_lines() {
                s.push_str(&line);
                s.push('\n');
            }
            s.push_str(&format!(
                "{} tensor ranges computed (--verbose lists them)\n",
                q.report.tensors.len()
            ));
        }
        s.push_str(&format!("wrote {}\n", a.output.display()));
        if let Some(c) = &a.cache {
            s.push_str(&format!(
                "wrote {} ({} tensors)\n",
                c.display(),
                q.cache.scales.len()
            ));
        }
        print_out(&s)?;
    }
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<Model> {
    // Flatten to one message: yolo-onnx errors already include their source's text.
    Model::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn save(model: &Model, path: &Path) -> anyhow::Result<()> {
    model
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}

#[derive(Serialize)]
struct FuseOutput<'a> {
    input: &'a Path,
    output: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    aux_head: Option<&'a yolo_onnx::passes::aux_head::AuxHeadReport>,
    report: &'a FuseReport,
    verification: Option<&'a VerifyReport>,
}

#[derive(Serialize)]
struct Fp16Output<'a> {
    input: &'a Path,
    output: &'a Path,
    report: &'a Fp16Report,
    verification: Option<&'a VerifyReport>,
}

#[derive(Serialize)]
struct InspectOutput<'a> {
    file: &'a Path,
    opset: i64,
    nodes: usize,
    inputs: Vec<IoSummary>,
    outputs: Vec<IoSummary>,
    op_histogram: &'a std::collections::BTreeMap<String, usize>,
    params: u64,
    flops: Option<u64>,
    patterns: &'a FuseReport,
    lint: &'a [LintWarning],
    cpu_executor: Option<String>,
}

/// `images float32 [?, 3, 640, 640]`.
fn dims_text(s: &IoSummary) -> String {
    let d: Vec<String> = s
        .dims
        .iter()
        .map(|d| d.map_or("?".into(), |v| v.to_string()))
        .collect();
    format!("{} {} [{}]", s.name, s.dtype, d.join(", "))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fuse {
            input,
            output,
            verify: require_verify,
            no_verify,
            shapes,
            keep_aux_head,
            tol,
            rtol,
            json,
        } => {
            let loaded = load(&input)?;
            let (input_shapes, chosen) =
                trt_tools::build::shapes::cpu_shapes(&loaded, shapes.as_deref())?;
            // The same step as trt-build's (and quantize's): same graph, same tensor names.
            let step =
                trt_tools::build::pipeline::reparameterize(&loaded, &input_shapes, keep_aux_head)?;
            let (original, mut fused, report) = (step.reference, step.model, step.report);
            if let Some(a) = step.aux_head.as_ref().filter(|_| !json) {
                eprintln!("trt-onnx: {a} (--keep-aux-head keeps it)");
            }
            fused.set_source_name(format!("{} (fused)", input.display()));
            if !chosen.is_empty() && !no_verify && !json {
                eprintln!(
                    "trt-onnx: verifying with {} (dynamic dimensions chosen; --shapes sets them)",
                    chosen.join(", ")
                );
            }
            let verification = if no_verify {
                None
            } else {
                let opts = VerifyOptions {
                    atol: tol,
                    rtol,
                    exec: ExecOptions {
                        input_shapes,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let step =
                    trt_tools::progress_step(json, "verifying the fused model on the CPU executor");
                let checked = verify::verify(&original, &fused, &opts);
                step.finish_and_clear();
                match checked {
                    Ok(v) => Some(v),
                    // The passes succeeded but the CPU executor cannot run the model (an op it lacks, a custom
                    // op, a training-mode BatchNormalization): write the result and say exactly why it is unchecked.
                    Err(e) if !require_verify => {
                        eprintln!(
                            "trt-onnx: warning: {} was not verified: {}; writing it unchecked (--verify makes this \
                             an error)",
                            output.display(),
                            e
                        );
                        None
                    }
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!(
                            "verifying the fused model (--verify was given; nothing written to {})",
                            output.display()
                        )))
                    }
                }
            };
            if let Some(v) = verification.as_ref().filter(|v| !v.passed) {
                if !json {
                    print_out(&v.to_text())?;
                }
                let worst = v
                    .worst
                    .iter()
                    .map(|w| format!("{} max_abs {:.3e}", w.name, w.max_abs))
                    .collect::<Vec<_>>();
                bail!(
                    "{}: fused model differs from the input beyond tolerance ({}); nothing written to {}",
                    input.display(),
                    worst.join(", "),
                    output.display()
                );
            }
            save(&fused, &output)?;
            if json {
                print_json(
                    "trt-onnx-fuse/1",
                    &FuseOutput {
                        input: &input,
                        output: &output,
                        aux_head: step.aux_head.as_ref(),
                        report: &report,
                        verification: verification.as_ref(),
                    },
                )?;
            } else {
                let mut s = String::new();
                if let Some(a) = &step.aux_head {
                    s.push_str(&format!("{a}\n"));
                }
                s.push_str(&report.to_string());
                if let Some(v) = &verification {
                    s.push_str("verification:\n");
                    s.push_str(&v.to_text());
                }
                s.push_str(&format!("wrote {}\n", output.display()));
                print_out(&s)?;
            }
        }
        Command::Fp16 {
            input,
            output,
            io_fp16,
            keep_fp32,
            decode_fp16,
            no_probe,
            no_verify,
            shapes,
            json,
        } => {
            let original = load(&input)?;
            let (input_shapes, chosen) =
                trt_tools::build::shapes::cpu_shapes(&original, shapes.as_deref())?;
            let runs_model = !(no_probe && no_verify);
            if runs_model && !chosen.is_empty() && !json {
                eprintln!(
                    "trt-onnx: running the model on CPU with {} (dynamic dimensions chosen; --shapes sets them)",
                    chosen.join(", ")
                );
            }
            let mut half = original.clone();
            let opts = Fp16Options {
                io_fp16,
                keep_fp32,
                decode_fp16,
                range_probe: !no_probe,
                input_shapes: input_shapes.clone(),
            };
            let verify_opts = VerifyOptions {
                atol: f64::INFINITY,
                exec: ExecOptions {
                    input_shapes: input_shapes.clone(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let verifies = !(no_verify || io_fp16);
            // The range probe runs the FP32 model on the verification's own inputs, so its outputs are the FP32
            // side of the check: the FP32 model runs once per input, not twice.
            let step = trt_tools::progress_step(json, "probing value ranges on the CPU executor");
            let probed = if no_probe {
                None
            } else {
                Some(
                    fp16::probe(&original, &input_shapes, &verify::run_plan(&verify_opts))
                        .context("probing value ranges (--no-probe skips the CPU range probe)")?,
                )
            };
            step.set_message("converting to FP16");
            let report = match &probed {
                Some(p) => fp16::convert_probed(&mut half, &opts, p),
                None => fp16::convert(&mut half, &opts),
            }
            .context("converting to FP16 (--no-probe skips the CPU range probe)")?;
            half.set_source_name(format!("{} (fp16)", input.display()));
            let verification = if !verifies {
                None
            } else {
                // FP16 is not exact: report the differences; fail only on overflow (non-finite) or a
                // broken output (cosine < 0.99). The FP16 model runs emulated in FP32 (FP16 storage, FP32
                // arithmetic, as TensorRT does), at about the cost of the FP32 run.
                step.set_message("checking the FP16 model against FP32 on the CPU executor");
                let emulated = fp16::emulate_in_f32(&half)
                    .context("preparing the FP16 check (use --no-verify to skip)")?;
                let v = match &probed {
                    Some(p) => verify::verify_against(
                        original.source_name(),
                        &p.runs,
                        &emulated,
                        &verify_opts,
                    ),
                    None => verify::verify(&original, &emulated, &verify_opts),
                }
                .context("checking the FP16 model on CPU (use --no-verify to skip)")?;
                if let Some(w) = v
                    .worst
                    .iter()
                    .find(|w| w.nonfinite_mismatches > 0 || w.cosine < 0.99)
                {
                    bail!(
                        "{}: FP16 model output '{}' is broken (cosine {:.4}, {} non-finite mismatches); keep more nodes in FP32 \
                         with --keep-fp32; nothing written to {}",
                        input.display(),
                        w.name,
                        w.cosine,
                        w.nonfinite_mismatches,
                        output.display()
                    );
                }
                Some(v)
            };
            step.finish_and_clear();
            save(&half, &output)?;
            if json {
                print_json(
                    "trt-onnx-fp16/1",
                    &Fp16Output {
                        input: &input,
                        output: &output,
                        report: &report,
                        verification: verification.as_ref(),
                    },
                )?;
            } else {
                let mut s = report.to_text();
                if let Some(v) = &verification {
                    s.push_str("difference to FP32 (informational):\n");
                    for w in &v.worst {
                        s.push_str(&format!(
                            "  {}: max_abs {:.3e}  cosine {:.6}\n",
                            w.name, w.max_abs, w.cosine
                        ));
                    }
                }
                s.push_str(&format!("wrote {}\n", output.display()));
                print_out(&s)?;
            }
        }
        Command::Inspect { input, json } => {
            let model = load(&input)?;
            let report = passes::analyze(&model, &FuseOptions::default())?;
            let lint = passes::lint::lint(&model);
            let cpu = check_supported_ops(&model).err().map(|e| e.to_string());
            // The same IO description as trt-inspect's (`name`, `dtype`, `dims` with null for dynamic).
            let summary = trt_tools::build::pipeline::summarize(&model);
            let out = InspectOutput {
                file: &input,
                opset: model.opset(),
                nodes: model.graph().nodes().len(),
                inputs: summary.inputs,
                outputs: summary.outputs,
                op_histogram: &report.before.op_histogram,
                params: report.before.params,
                flops: report.before.flops,
                patterns: &report,
                lint: &lint,
                cpu_executor: cpu,
            };
            if json {
                print_json("trt-onnx-inspect/1", &out)?;
            } else {
                let mut s = format!(
                    "{}: opset {}, {} nodes, {} parameters\n",
                    input.display(),
                    out.opset,
                    out.nodes,
                    out.params
                );
                for i in &out.inputs {
                    s.push_str(&format!("input  {}\n", dims_text(i)));
                }
                for o in &out.outputs {
                    s.push_str(&format!("output {}\n", dims_text(o)));
                }
                s.push_str("ops:\n");
                for (op, n) in out.op_histogram {
                    s.push_str(&format!("  {op:<24} {n}\n"));
                }
                s.push_str("fusion (what `trt-onnx fuse` would do):\n");
                s.push_str(&report.to_string());
                if lint.is_empty() {
                    s.push_str("lint: no warnings\n");
                } else {
                    s.push_str("lint:\n");
                    for w in &lint {
                        s.push_str(&format!("  {w}\n"));
                    }
                }
                if let Some(c) = &out.cpu_executor {
                    s.push_str(&format!("cpu executor: {c}\n"));
                }
                print_out(&s)?;
            }
        }
        Command::Verify {
            a,
            b,
            tol,
            rtol,
            runs,
            shapes,
            json,
        } => {
            let (ma, mb) = (load(&a)?, load(&b)?);
            let (input_shapes, chosen) =
                trt_tools::build::shapes::cpu_shapes(&ma, shapes.as_deref())?;
            if !chosen.is_empty() && !json {
                eprintln!(
                    "trt-onnx: verifying with {} (dynamic dimensions chosen; --shapes sets them)",
                    chosen.join(", ")
                );
            }
            let opts = VerifyOptions {
                atol: tol,
                rtol,
                random_runs: runs,
                image_runs: runs,
                exec: ExecOptions {
                    input_shapes,
                    ..Default::default()
                },
                ..Default::default()
            };
            let step = trt_tools::progress_step(json, "running both models on the CPU executor");
            let r = verify::verify(&ma, &mb, &opts);
            step.finish_and_clear();
            let r = r?;
            if json {
                print_json("trt-onnx-verify/1", &r)?;
            } else {
                print_out(&r.to_text())?;
            }
            if !r.passed {
                let worst = r
                    .worst
                    .iter()
                    .filter(|w| w.violations > 0)
                    .map(|w| format!("'{}' max_abs {:.3e}", w.name, w.max_abs));
                bail!(
                    "{} differs from {} beyond tolerance: {}",
                    b.display(),
                    a.display(),
                    worst.collect::<Vec<_>>().join(", ")
                );
            }
        }
        Command::Bench {
            a,
            b,
            iterations,
            warmup,
            json,
        } => {
            let ma = load(&a)?;
            let mb = b.as_deref().map(load).transpose()?;
            let r = verify::bench(&ma, mb.as_ref(), iterations, warmup)?;
            if json {
                print_json("trt-onnx-bench/1", &r)?;
            } else {
                print_out(&r.to_text())?;
            }
        }
        Command::Quantize(args) => quantize(*args)?,
        Command::Sample { output, kind, seed } => {
            let model = yolo_onnx::testgen::sample(&kind, seed)?;
            // Generated models must run on the CPU executor (cheap check; the big one is skipped).
            if kind != "yolov7-sized" {
                Executor::new(&model, &ExecOptions::default())
                    .context("internal: generated model does not load")?;
            }
            save(&model, &output)?;
            print_out(&format!(
                "wrote {} ({kind}, seed {seed})\n",
                output.display()
            ))?;
        }
    }
    Ok(ExitCode::from(exit::OK))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::from(exit::OK),
        Err(e) => ExitCode::from(exit::report("trt-onnx", &e)),
    }
}

/// `--percentile`: a number in (0, 100].
fn parse_percentile(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 100.0 => Ok(v),
        _ => Err(format!("`{s}` is not a percentile in (0, 100], e.g. 99.99")),
    }
}

/// `--tol` / `--rtol`: a finite number ≥ 0 (NaN would make every comparison pass).
fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!(
            "`{v}` is not a tolerance; give a finite number ≥ 0, e.g. 1e-4"
        )),
        Err(_) => Err(format!(
            "`{s}` is not a number; give a tolerance such as 1e-4"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn keep_fp32_takes_several_patterns() {
        let c = Cli::try_parse_from([
            "trt-onnx",
            "fp16",
            "a.onnx",
            "-o",
            "b.onnx",
            "--keep-fp32",
            "Sigmoid",
            "model.1*",
        ])
        .unwrap();
        match c.command {
            Command::Fp16 { keep_fp32, .. } => assert_eq!(keep_fp32, vec!["Sigmoid", "model.1*"]),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["trt-onnx", "sample", "-o", "x", "--kind", "nope"]).is_err());
    }
}
