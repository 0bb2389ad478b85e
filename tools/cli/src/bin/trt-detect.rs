//! `trt-detect`: run a YOLO model on images and print detections (text or JSON) and/or write
//! annotated copies. See `trt-detect --help`.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use serde::Serialize;
use trt_tools::exit;
use yolo_rt::{
    load_class_names, CpuBackend, CpuOptions, DecodeConfig, Detection, Detector, DetectorOptions,
    EngineOptions, Image, LayoutKind, NmsConfig, RawHeadConfig,
};

const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];
const ENGINE_EXTENSIONS: [&str; 3] = ["engine", "plan", "trt"];

/// Detect objects with a YOLO model (TensorRT engine or ONNX on the CPU backend) in images.
#[derive(Debug, Parser)]
#[command(name = "trt-detect", version, after_help = exit::HELP)]
struct Cli {
    /// Model: a TensorRT engine (.engine/.plan) or an ONNX file (runs on the CPU backend).
    #[arg(long, value_name = "ENGINE|ONNX")]
    model: PathBuf,
    /// Images (PNG, JPEG, BMP) or directories of images (not recursive).
    #[arg(required = true, value_name = "IMAGES_OR_DIRS")]
    inputs: Vec<PathBuf>,
    /// Confidence threshold.
    #[arg(long, default_value_t = 0.25)]
    conf: f32,
    /// IoU threshold of the NMS.
    #[arg(long, default_value_t = 0.45)]
    iou: f32,
    /// Keep at most this many detections per image.
    #[arg(long, default_value_t = 300)]
    max_det: usize,
    /// Class-agnostic NMS.
    #[arg(long)]
    agnostic: bool,
    /// Class names: one per line, or a JSON array.
    #[arg(long, value_name = "FILE")]
    classes: Option<PathBuf>,
    /// Output layout instead of detecting it: v7-grid, v7-raw-heads, v9, v9-dual, efficient-nms, onnx-nms.
    #[arg(long, value_name = "KIND")]
    layout: Option<LayoutKind>,
    /// Strides and anchors for YOLOv7 raw heads (JSON: {"strides": [8,16,32], "anchors": [[...],...]});
    /// default: YOLOv7 P5 anchors.
    #[arg(long, value_name = "FILE")]
    anchors: Option<PathBuf>,
    /// Print one JSON document with every image's detections.
    #[arg(long)]
    json: bool,
    /// Write annotated images (boxes, labels, scores) as PNG files into this directory: `NAME.png`, or
    /// `NAME.EXT.png` when two inputs share a name (an input's annotated copy never replaces another's).
    #[arg(long, value_name = "DIR")]
    save_dir: Option<PathBuf>,
    /// Network input size for an ONNX model with dynamic height/width: `640` (square), `H,W` (Ultralytics'
    /// order) or `WxH`; default: the model's `imgsz` metadata.
    #[arg(long, alias = "input-size", value_name = "N|H,W|WxH", value_parser = parse_imgsz)]
    imgsz: Option<(usize, usize)>,
    #[command(flatten)]
    plugins: trt_tools::PluginArgs,
    #[command(flatten)]
    runtime_cache: trt_tools::RuntimeCacheArgs,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    /// `trt-detect/1`.
    schema: &'static str,
    model: String,
    backend: String,
    layout: String,
    warnings: &'a [String],
    images: Vec<JsonImage<'a>>,
}

/// One processed image: the decoded image, its detections and the annotated file written (with --save-dir).
type Processed = (Image, Vec<Detection>, Option<PathBuf>);

fn main() -> ExitCode {
    let cli: Cli = match exit::parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(exit::report("trt-detect", &e)),
    }
}

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Expands directories (sorted, images only); plain files are taken as given.
fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && has_ext(f, &IMAGE_EXTENSIONS))
                .collect();
            files.sort();
            if files.is_empty() {
                eprintln!(
                    "trt-detect: warning: {} contains no PNG/JPEG/BMP images",
                    p.display()
                );
            }
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(out)
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

/// The annotated file of each input under `dir`: `NAME.png`, or `NAME.EXT.png` for inputs sharing a name; inputs
/// whose names still collide (the same file name in two directories) are refused before any work.
fn annotated_paths(images: &[PathBuf], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    use std::collections::HashMap;
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into())
    };
    let mut by_stem: HashMap<String, usize> = HashMap::new();
    for p in images {
        *by_stem.entry(stem(p)).or_default() += 1;
    }
    let names: Vec<String> = images
        .iter()
        .map(|p| {
            if by_stem[&stem(p)] > 1 {
                let file = p
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "image".into());
                format!("{file}.png")
            } else {
                format!("{}.png", stem(p))
            }
        })
        .collect();
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for (n, p) in names.iter().zip(images) {
        if let Some(first) = seen.insert(n, p) {
            if first != p.as_path() {
                bail!(
                    "--save-dir: {} and {} would both be saved as {}; process them separately or rename one",
                    first.display(),
                    p.display(),
                    dir.join(n).display()
                );
            }
        }
    }
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

fn load_detector(cli: &Cli) -> anyhow::Result<Detector> {
    if cli.model.is_dir() {
        bail!(
            "--model {}: is a directory; give the engine (.engine/.plan) or ONNX file inside it",
            cli.model.display()
        );
    }
    if !cli.model.is_file() {
        bail!("{}: model file not found", cli.model.display());
    }
    let class_names = match &cli.classes {
        Some(p) => load_class_names(p)?,
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
    if has_ext(&cli.model, &ENGINE_EXTENSIONS) {
        if cli.imgsz.is_some() {
            bail!(
                "--imgsz applies to ONNX models on the CPU backend; an engine's input size is fixed by its build \
                 (trt-build --shapes)"
            );
        }
        // Class names: --classes, else the sidecar's `class_names`, else `<engine>.names`.
        cli.plugins.check()?;
        let engine_options = EngineOptions {
            plugin_libraries: cli.plugins.plugins.clone(),
            runtime_cache: cli.runtime_cache.policy(),
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
    let backend = CpuBackend::load(
        &cli.model,
        &CpuOptions {
            input_size: cli.imgsz,
            ..CpuOptions::default()
        },
    )?;
    Ok(Detector::new(Box::new(backend), options)?)
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    if !(0.0..=1.0).contains(&cli.conf) || !(0.0..=1.0).contains(&cli.iou) {
        bail!(
            "--conf {} and --iou {} must lie within [0, 1]",
            cli.conf,
            cli.iou
        );
    }
    let images = collect_images(&cli.inputs)?;
    let save_names = match &cli.save_dir {
        Some(dir) => Some(annotated_paths(&images, dir)?),
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
    for (i, path) in images.iter().enumerate() {
        let r = (|| -> anyhow::Result<Processed> {
            let img = Image::open(path)?;
            let dets = detector.detect(&img.view())?;
            let saved = match &save_names {
                Some(names) => {
                    let mut annotated = img.clone();
                    yolo_rt::draw::annotate(&mut annotated, &dets, detector.class_names());
                    let out = names[i].clone();
                    trt_tools::atomic_write(&out, &annotated.encode_png()?)
                        .with_context(|| format!("writing {}", out.display()))?;
                    Some(out)
                }
                None => None,
            };
            Ok((img, dets, saved))
        })();
        results.push((path.clone(), r.map_err(|e| format!("{e:#}"))));
    }
    let failures = results.iter().filter(|(_, r)| r.is_err()).count();
    let names = detector.class_names().to_vec();
    let name_of = |id: u32| names.get(id as usize).map(String::as_str);
    let mut stdout = std::io::stdout().lock();
    let written = if cli.json {
        let report = JsonReport {
            schema: "trt-detect/1",
            model: cli.model.display().to_string(),
            backend: detector.backend().name(),
            layout: detector.decoder().layout().kind().to_string(),
            warnings: detector.warnings(),
            images: results
                .iter()
                .map(|(p, r)| match r {
                    Ok((img, dets, saved)) => JsonImage {
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
                        error: None,
                    },
                    Err(e) => JsonImage {
                        path: p.display().to_string(),
                        width: None,
                        height: None,
                        detections: None,
                        annotated: None,
                        error: Some(e.clone()),
                    },
                })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut stdout, &report)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(stdout))
    } else {
        (|| -> std::io::Result<()> {
            for (p, r) in &results {
                if let Ok((_, dets, saved)) = r {
                    writeln!(stdout, "{}: {} detection(s)", p.display(), dets.len())?;
                    for d in dets {
                        let label = name_of(d.class_id)
                            .map_or_else(|| format!("class {}", d.class_id), str::to_string);
                        let [x1, y1, x2, y2] = d.bbox;
                        writeln!(
                            stdout,
                            "  {label} {:.3} [{x1:.1}, {y1:.1}, {x2:.1}, {y2:.1}]",
                            d.score
                        )?;
                    }
                    if let Some(s) = saved {
                        writeln!(stdout, "  annotated: {}", s.display())?;
                    }
                }
            }
            Ok(())
        })()
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("writing to stdout"),
        Ok(()) => {}
    }
    for (p, r) in &results {
        if let Err(e) = r {
            eprintln!("trt-detect: error: {}: {e}", p.display());
        }
    }
    Ok(if failures > 0 {
        exit::FAILURE
    } else {
        exit::OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
