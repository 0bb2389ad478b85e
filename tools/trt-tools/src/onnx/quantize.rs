//! `trt-onnx quantize`: INT8 calibration on images or .npy tensors (CPU), written as a Q/DQ ONNX and optionally a
//! TensorRT calibration cache.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::load;
use crate::common::output;

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
    pub algo: crate::calib_data::CalibAlgo,
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

/// `--cache-trt`: a TensorRT release (the calibration cache's header names it).
fn parse_version(s: &str) -> anyhow::Result<(u32, u32, u32)> {
    match s.parse::<trt::Version>() {
        Ok(v) if v.is_rtx() => bail!(
            "--cache-trt {s}: TensorRT for RTX reads no calibration cache; give the TensorRT release (X.Y or X.Y.Z)"
        ),
        Ok(v) => Ok((v.major, v.minor, v.patch)),
        Err(_) => bail!("--cache-trt {s}: expected X.Y or X.Y.Z"),
    }
}

/// `trt-onnx quantize`'s options, validated (what needs no file).
#[derive(Debug)]
pub struct QuantizeConfig {
    /// The options as given.
    pub args: QuantizeArgs,
    /// `--cache-trt`: the TensorRT release the cache header names.
    pub cache_trt: (u32, u32, u32),
    /// `--input-size WxH`, as (width, height).
    pub input_size: Option<(usize, usize)>,
}

impl QuantizeConfig {
    /// Checks `--cache-trt` (and that a cache is not asked of TensorRT 11) and parses `--input-size`.
    pub fn new(a: QuantizeArgs) -> anyhow::Result<QuantizeConfig> {
        let cache_trt = parse_version(&a.cache_trt)?;
        if cache_trt.0 >= 11 && a.cache.is_some() {
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
        Ok(QuantizeConfig {
            args: a,
            cache_trt,
            input_size,
        })
    }
}

/// Runs `trt-onnx quantize`.
pub fn run(config: QuantizeConfig) -> anyhow::Result<()> {
    use crate::calib_data::CalibAlgo;
    use yolo_onnx::quant::{Algorithm, QdqOptions, QuantizeOptions};
    let QuantizeConfig {
        args: a,
        cache_trt: (major, minor, patch),
        input_size,
    } = config;
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
    let (shapes, chosen) = crate::shapes::cpu_shapes(&loaded, a.shapes.as_deref())?;
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
        let r = crate::pipeline::reparameterize(&loaded, &shapes, a.keep_aux_head)?;
        if let Some(h) = r.aux_head.as_ref().filter(|_| !a.json) {
            eprintln!("trt-onnx: {h} (--keep-aux-head keeps it)");
        }
        let checks = crate::pipeline::Checks {
            tool: "trt-onnx quantize",
            verify: !a.no_verify,
            quiet: a.json,
            skip_flag: "--no-fuse",
        };
        crate::pipeline::check_reparameterized(&r, &shapes, &checks)?;
        r.model
    };
    let data = crate::calib_data::DataOptions {
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
        crate::calib_data::calibrate_dir(&model, &a.calib, &data, &options, version).map_err(
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
        crate::common::fs::atomic_write(cache, q.cache.to_text().as_bytes())
            .with_context(|| format!("--cache {}: cannot write", cache.display()))?;
    }
    crate::common::fs::atomic_write(&a.output, &bytes)
        .with_context(|| format!("writing {}", a.output.display()))?;
    if a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            input: &'a Path,
            output: &'a Path,
            cache: Option<&'a Path>,
            data: &'a crate::calib_data::DataSummary,
            report: &'a yolo_onnx::quant::QuantReport,
        }
        output::print_json(
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
            "calibrated on {} samples from {} ({} files, {} skipped, {} held out; {:.1} samples/s on {})\n",
            summary.calibration_samples,
            summary.dir.display(),
            summary.files_found,
            summary.skipped.len(),
            summary.held_out_samples,
            summary.samples_per_second,
            summary.executor
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
        output::print_out(&s)?;
    }
    Ok(())
}

/// `--percentile`: a number in (0, 100].
fn parse_percentile(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 100.0 => Ok(v),
        _ => Err(format!("`{s}` is not a percentile in (0, 100], e.g. 99.99")),
    }
}
