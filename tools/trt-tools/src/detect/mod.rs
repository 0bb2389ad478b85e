//! `trt-detect`: run a YOLO model on images and print detections (text or JSON) and/or write
//! annotated copies. See `trt-detect --help`.

mod files;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::common::plugins::{PluginArgs, RuntimeCacheArgs};
use crate::common::{exit, fs, output};
use anyhow::{bail, Context};
use clap::Parser;
use serde::Serialize;
use yolo_rt::{
    load_class_names, CpuBackend, CpuOptions, DecodeConfig, Detection, Detector, DetectorOptions,
    EngineOptions, Image, LayoutKind, NmsConfig, RawHeadConfig,
};

const ENGINE_EXTENSIONS: [&str; 3] = ["engine", "plan", "trt"];

/// Detect objects with a YOLO model (TensorRT engine or ONNX on the CPU backend) in images.
// The field docs are the --help text, where `[8,16,32]` is JSON, not a link.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Parser)]
#[command(name = "trt-detect", version, after_help = exit::HELP)]
pub struct Opts {
    /// Model: a TensorRT engine (.engine/.plan) or an ONNX file (runs on the CPU backend).
    #[arg(long, value_name = "ENGINE|ONNX")]
    pub model: PathBuf,
    /// Images (PNG, JPEG, BMP, WebP, TIFF) or directories of images (not recursive).
    #[arg(required = true, value_name = "IMAGES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,
    /// Confidence threshold.
    #[arg(long, default_value_t = 0.25)]
    pub conf: f32,
    /// IoU threshold of the NMS.
    #[arg(long, default_value_t = 0.45)]
    pub iou: f32,
    /// Keep at most this many detections per image.
    #[arg(long, default_value_t = 300)]
    pub max_det: usize,
    /// Class-agnostic NMS.
    #[arg(long)]
    pub agnostic: bool,
    /// Class names: one per line, a JSON array, or an Ultralytics `{0: 'person', …}` mapping.
    #[arg(long, value_name = "FILE")]
    pub names: Option<PathBuf>,
    /// Keep only these class ids (Ultralytics' `classes=0,2`). A path is still read as --names FILE (the
    /// spelling of earlier releases).
    #[arg(long, value_name = "ID,ID…|FILE")]
    pub classes: Option<String>,
    /// With --save-dir: also write YOLO-format labels, `DIR/labels/NAME.txt` with one `class cx cy w h` line per
    /// detection, normalized to the image size (Ultralytics' save_txt).
    #[arg(long, requires = "save_dir")]
    pub save_txt: bool,
    /// With --save-txt: append each detection's confidence to its line.
    #[arg(long, requires = "save_txt")]
    pub save_conf: bool,
    /// Output layout instead of detecting it: v7-grid, v7-raw-heads, v9, v9-dual, efficient-nms, onnx-nms.
    #[arg(long, value_name = "KIND")]
    pub layout: Option<LayoutKind>,
    /// Strides and anchors for YOLOv7 raw heads (JSON: {"strides": [8,16,32], "anchors": [[...],...]});
    /// default: YOLOv7 P5 anchors.
    #[arg(long, value_name = "FILE")]
    pub anchors: Option<PathBuf>,
    /// Print one JSON document with every image's detections.
    #[arg(long)]
    pub json: bool,
    /// Write annotated images (boxes, labels, scores) as PNG files into this directory: `NAME.png`, or
    /// `NAME.EXT.png` when two inputs share a name (an input's annotated copy never replaces another's).
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,
    /// Network input size for an ONNX model with dynamic height/width: `640` (square), `H,W` (Ultralytics'
    /// order) or `WxH`; default: the model's `imgsz` metadata.
    #[arg(long, alias = "input-size", value_name = "N|H,W|WxH", value_parser = parse_imgsz)]
    pub imgsz: Option<(usize, usize)>,
    #[command(flatten)]
    pub plugins: PluginArgs,
    #[command(flatten)]
    pub runtime_cache: RuntimeCacheArgs,
    #[command(flatten)]
    pub sidecar: crate::common::engine::SidecarArgs,
}

#[derive(Serialize)]
struct JsonDetection<'a> {
    class_id: u32,
    class_name: Option<&'a str>,
    score: f32,
    /// `[x1, y1, x2, y2]` in image pixels.
    bbox: [f32; 4],
}

#[derive(Serialize)]
struct JsonImage<'a> {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detections: Option<Vec<JsonDetection<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotated: Option<String>,
    /// Milliseconds per stage (preprocess, inference, postprocess).
    #[serde(skip_serializing_if = "Option::is_none")]
    speed_ms: Option<yolo_rt::Speed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The `--json` document (schema `trt-detect/1`).
#[derive(Serialize)]
struct JsonReport<'a> {
    model: String,
    backend: String,
    layout: String,
    warnings: &'a [String],
    images: Vec<JsonImage<'a>>,
}

/// One processed image: the decoded image, its detections, the annotated file written (with --save-dir) and where the
/// time went.
type Processed = (Image, Vec<Detection>, Option<PathBuf>, yolo_rt::Speed);

/// `trt-detect`'s command line, validated.
#[derive(Debug)]
pub struct Config {
    opts: Opts,
}

impl Config {
    /// Checks the thresholds (`--conf`, `--iou` within [0, 1]).
    pub fn new(opts: Opts) -> anyhow::Result<Config> {
        if !(0.0..=1.0).contains(&opts.conf) || !(0.0..=1.0).contains(&opts.iou) {
            bail!(
                "--conf {} and --iou {} must lie within [0, 1]",
                opts.conf,
                opts.iou
            );
        }
        Ok(Config { opts })
    }

    /// The command line it was made from.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }
}

/// `main` of `trt-detect`.
pub fn main() -> ExitCode {
    exit::main("trt-detect", |opts: Opts| {
        // Warnings (TensorRT's, the runtime cache's, --no-sidecar's) go to stderr.
        crate::common::tracing::init(false, false);
        run(Config::new(opts)?)
    })
}

/// `--classes` as a class-id filter: `0,2` (None when the value is a names file, or absent).
fn class_filter(cli: &Opts) -> anyhow::Result<Option<Vec<u32>>> {
    let Some(v) = &cli.classes else {
        return Ok(None);
    };
    if Path::new(v).is_file() {
        return Ok(None);
    }
    v.split(',')
        .map(|t| {
            t.trim().parse::<u32>().map_err(|_| {
                anyhow::anyhow!(
                    "--classes {v}: expected class ids like 0,2 (or a names file that exists; names files are \
                     --names FILE)"
                )
            })
        })
        .collect::<anyhow::Result<Vec<u32>>>()
        .map(Some)
}

/// The names file: --names, else a --classes value that is a file (earlier releases' spelling).
fn names_file(cli: &Opts) -> Option<PathBuf> {
    cli.names.clone().or_else(|| {
        cli.classes
            .as_deref()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
    })
}

/// `--imgsz`: `640`, `H,W` or `WxH`, as (width, height).
fn parse_imgsz(s: &str) -> Result<(usize, usize), String> {
    let num = |t: &str| {
        t.trim()
            .parse::<usize>()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("`{s}`: expected 640, H,W or WxH with positive sizes"))
    };
    if let Some((h, w)) = s.split_once(',') {
        Ok((num(w)?, num(h)?))
    } else if let Some((w, h)) = s.split_once(['x', 'X']) {
        Ok((num(w)?, num(h)?))
    } else {
        let n = num(s)?;
        Ok((n, n))
    }
}

fn load_detector(cli: &Opts) -> anyhow::Result<Detector> {
    if cli.model.is_dir() {
        bail!(
            "--model {}: is a directory; give the engine (.engine/.plan) or ONNX file inside it",
            cli.model.display()
        );
    }
    if !cli.model.is_file() {
        bail!("{}: model file not found", cli.model.display());
    }
    let class_names = match names_file(cli) {
        Some(p) => load_class_names(&p)?,
        None => Vec::new(),
    };
    let raw_heads = match &cli.anchors {
        Some(p) => RawHeadConfig::from_json_file(p)?,
        None => RawHeadConfig::yolov7(),
    };
    let decode = DecodeConfig {
        conf: cli.conf,
        nms: NmsConfig {
            iou: cli.iou,
            max_det: cli.max_det,
            agnostic: cli.agnostic,
            ..NmsConfig::default()
        },
        layout: cli.layout,
        raw_heads,
    };
    let options = DetectorOptions {
        decode,
        class_names,
        ..Default::default()
    };
    if files::has_ext(&cli.model, &ENGINE_EXTENSIONS) {
        if cli.imgsz.is_some() {
            bail!(
                "--imgsz applies to ONNX models on the CPU backend; an engine's input size is fixed by its build \
                 (trt-build --shapes)"
            );
        }
        // Class names: --classes, else the sidecar's `class_names` (Ultralytics' with --no-sidecar), else
        // `<engine>.names`.
        cli.plugins.check()?;
        if cli.sidecar.no_sidecar {
            crate::common::engine::precheck_foreign(&cli.model)?;
            crate::common::engine::warn_unchecked(&cli.model);
        }
        let engine_options = EngineOptions {
            plugin_libraries: cli.plugins.plugins.clone(),
            runtime_cache: cli.runtime_cache.policy(),
            without_sidecar: cli.sidecar.no_sidecar,
            ..EngineOptions::default()
        };
        return Detector::from_engine_with(&cli.model, options, &engine_options).map_err(
            |e| match e {
                // No TensorRT, CUDA runtime, driver or GPU here: exit 3.
                yolo_rt::Error::BackendUnavailable(msg) => exit::missing(format!(
                    "{msg}; run the model's ONNX on the CPU backend instead (--model model.onnx)"
                )),
                other => other.into(),
            },
        );
    }
    if cli.sidecar.no_sidecar {
        bail!(
            "--no-sidecar applies to TensorRT engines; {} is run as ONNX on the CPU backend",
            cli.model.display()
        );
    }
    let backend = CpuBackend::load(
        &cli.model,
        &CpuOptions {
            input_size: cli.imgsz,
            ..CpuOptions::default()
        },
    )?;
    Ok(Detector::new(Box::new(backend), options)?)
}

/// Runs `trt-detect`; returns the exit code (1 when an image failed).
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let cli = config.opts();
    let images = files::collect_images(&cli.inputs)?;
    let save_names = match &cli.save_dir {
        Some(dir) => Some(files::annotated_paths(&images, dir)?),
        None => None,
    };
    let mut detector = load_detector(cli)?;
    for w in detector.warnings() {
        eprintln!("trt-detect: warning: {w}");
    }
    if cli.anchors.is_some() && detector.decoder().layout().kind() != LayoutKind::V7RawHeads {
        eprintln!(
            "trt-detect: warning: --anchors applies to YOLOv7 raw heads only; this model's outputs are {}, so it is \
             ignored",
            detector.decoder().layout().kind()
        );
    }
    if let Some(dir) = &cli.save_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut results: Vec<(PathBuf, Result<Processed, String>)> = Vec::new();
    let keep = class_filter(cli)?;
    for (i, path) in images.iter().enumerate() {
        let r = (|| -> anyhow::Result<Processed> {
            let img = Image::open(path)?;
            let mut dets = detector.detect(&img.view())?;
            let speed = detector.last_speed();
            if let Some(keep) = &keep {
                dets.retain(|d| keep.contains(&d.class_id));
            }
            if let (true, Some(names)) = (cli.save_txt, &save_names) {
                let png = &names[i];
                let dir = png.parent().unwrap_or(Path::new(".")).join("labels");
                let stem = png
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let txt = dir.join(format!("{stem}.txt"));
                fs::atomic_write(
                    &txt,
                    files::yolo_label_lines(&dets, img.width, img.height, cli.save_conf).as_bytes(),
                )
                .with_context(|| format!("writing {}", txt.display()))?;
            }
            let saved = match &save_names {
                Some(names) => {
                    let mut annotated = img.clone();
                    yolo_rt::draw::annotate(&mut annotated, &dets, detector.class_names());
                    let out = names[i].clone();
                    fs::atomic_write(&out, &annotated.encode_png()?)
                        .with_context(|| format!("writing {}", out.display()))?;
                    Some(out)
                }
                None => None,
            };
            Ok((img, dets, saved, speed))
        })();
        results.push((path.clone(), r.map_err(|e| format!("{e:#}"))));
    }
    let failures = results.iter().filter(|(_, r)| r.is_err()).count();
    // A closed stdout loses only the report: the images that failed are still named on stderr and exit 1.
    match print_results(&cli.model, cli.json, &detector, &results) {
        Err(e) if output::is_broken_pipe(&e) => {}
        r => r.context("writing to stdout")?,
    }
    for (p, r) in &results {
        if let Err(e) = r {
            eprintln!("trt-detect: error: {}: {e}", p.display());
        }
    }
    Ok(ExitCode::from(if failures > 0 {
        exit::FAILURE
    } else {
        exit::OK
    }))
}

/// Prints every image's detections on stdout: one `--json` document (`trt-detect/1`), or text lines.
fn print_results(
    model: &Path,
    json: bool,
    detector: &Detector,
    results: &[(PathBuf, Result<Processed, String>)],
) -> anyhow::Result<()> {
    let names = detector.class_names().to_vec();
    let name_of = |id: u32| names.get(id as usize).map(String::as_str);
    if json {
        let report = JsonReport {
            model: model.display().to_string(),
            backend: detector.backend().name(),
            layout: detector.decoder().layout().kind().to_string(),
            warnings: detector.warnings(),
            images: results
                .iter()
                .map(|(p, r)| match r {
                    Ok((img, dets, saved, speed)) => JsonImage {
                        path: p.display().to_string(),
                        width: Some(img.width),
                        height: Some(img.height),
                        detections: Some(
                            dets.iter()
                                .map(|d| JsonDetection {
                                    class_id: d.class_id,
                                    class_name: name_of(d.class_id),
                                    score: d.score,
                                    bbox: d.bbox,
                                })
                                .collect(),
                        ),
                        annotated: saved.as_ref().map(|s| s.display().to_string()),
                        speed_ms: Some(*speed),
                        error: None,
                    },
                    Err(e) => JsonImage {
                        path: p.display().to_string(),
                        width: None,
                        height: None,
                        detections: None,
                        annotated: None,
                        speed_ms: None,
                        error: Some(e.clone()),
                    },
                })
                .collect(),
        };
        output::print_json("trt-detect/1", &report)
    } else {
        let mut text = String::new();
        for (p, r) in results {
            if let Ok((img, dets, saved, speed)) = r {
                writeln!(
                    text,
                    "{}: {} detection(s), {}x{}; speed {:.1} ms preprocess, {:.1} ms inference, {:.1} ms \
                     postprocess",
                    p.display(),
                    dets.len(),
                    img.width,
                    img.height,
                    speed.preprocess,
                    speed.inference,
                    speed.postprocess
                )?;
                for d in dets {
                    let label = name_of(d.class_id)
                        .map_or_else(|| format!("class {}", d.class_id), str::to_string);
                    let [x1, y1, x2, y2] = d.bbox;
                    writeln!(
                        text,
                        "  {label} {:.3} [{x1:.1}, {y1:.1}, {x2:.1}, {y2:.1}]",
                        d.score
                    )?;
                }
                if let Some(s) = saved {
                    writeln!(text, "  annotated: {}", s.display())?;
                }
            }
        }
        output::print_out(&text)
    }
}
