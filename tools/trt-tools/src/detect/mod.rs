//! `trt-detect`: run a YOLO model on images and videos and print detections (text or JSON) and/or write annotated
//! copies. See `trt-detect --help`.

mod files;
mod report;
mod source;
#[cfg(feature = "video")]
mod video;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::common::plugins::{PluginArgs, RuntimeCacheArgs};
use crate::common::{exit, fs};
use anyhow::{bail, Context};
use clap::Parser;
use report::{Found, Reporter};
use source::Input;
use yolo_rt::{
    load_class_names, CpuBackend, CpuOptions, DecodeConfig, Detector, DetectorOptions,
    EngineOptions, Image, LayoutKind, NmsConfig, RawHeadConfig,
};

const ENGINE_EXTENSIONS: [&str; 3] = ["engine", "plan", "trt"];

const AFTER_HELP: &str = "\
Sources:
  IMAGE            PNG, JPEG, BMP, WebP or TIFF
  DIR              its images (and videos), sorted; subdirectories are not searched
  VIDEO            mp4 mkv avi mov webm m4v mpg mpeg ts (any other name: --video FILE)
  0, 1, …          a V4L2 camera: /dev/video0, /dev/video1, … (also given as /dev/videoN)
  URL              rtsp://, rtmp://, http(s):// streams
Videos, cameras and streams need a build with `--features video` (`cargo build --release -p trt-tools --features
video`): frames are decoded by an ffmpeg executable run as a child process (--ffmpeg PATH, else $TRT_FFMPEG, $FFMPEG,
then `ffmpeg` on PATH; no ffprobe needed) and go through the same detector as images. Frame N is the source's N-th
decoded frame (0-based); its timestamp is N / the frame rate ffmpeg states. Text lines appear as frames are done;
--json prints one document at the end (give a camera or stream --max-frames). Ctrl-C stops after the current frame:
what was detected is reported and the annotated video so far is saved; a second Ctrl-C ends at once.

Exit codes: 0 ok, 1 failed build or invalid input (a corrupt image or video, no ffmpeg), 2 usage error,
3 TensorRT, CUDA or a usable GPU missing on this machine, 130 (143) a video stopped by Ctrl-C (SIGTERM).";

/// Detect objects with a YOLO model (TensorRT engine or ONNX on the CPU backend) in images and videos.
// The field docs are the --help text, where `[8,16,32]` is JSON, not a link.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Parser)]
#[command(name = "trt-detect", version, after_long_help = AFTER_HELP, after_help = exit::HELP)]
pub struct Opts {
    /// Model: a TensorRT engine (.engine/.plan) or an ONNX file (runs on the CPU backend).
    #[arg(long, value_name = "ENGINE|ONNX")]
    pub model: PathBuf,
    /// Images (PNG, JPEG, BMP, WebP, TIFF), directories of them (not recursive) and, in a build with `--features
    /// video`, video files (mp4 mkv avi mov webm m4v mpg mpeg ts), cameras (`0` is /dev/video0) and rtsp://,
    /// rtmp://, http(s):// streams.
    #[arg(required_unless_present = "video", value_name = "SOURCES")]
    pub inputs: Vec<PathBuf>,
    /// Read this file or URL as a video whatever its name (a capture with another extension, a FIFO); repeatable.
    /// Needs a build with `--features video`.
    #[arg(long, value_name = "FILE|URL")]
    pub video: Vec<PathBuf>,
    /// Videos: detect in every Nth frame only, frames 0, N, 2N, … (Ultralytics' vid_stride); the others are decoded
    /// and dropped.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub vid_stride: u64,
    /// Videos: stop each source after detecting in this many frames (a camera or stream otherwise runs until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_frames: Option<u64>,
    /// The ffmpeg executable that decodes videos and encodes the annotated ones; default: $TRT_FFMPEG, $FFMPEG, then
    /// `ffmpeg` on PATH.
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<PathBuf>,
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
    /// With --save-dir: also write YOLO-format labels, `DIR/labels/NAME.txt` (`NAME_<frame>.txt` for a video frame)
    /// with one `class cx cy w h` line per detection, normalized to the image size (Ultralytics' save_txt).
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
    /// Print one JSON document with every image's and video frame's detections (frames carry `frame` and
    /// `timestamp_s`; `videos` sums up each video source).
    #[arg(long)]
    pub json: bool,
    /// Write annotated images (boxes, labels, scores) as PNG files into this directory: `NAME.png`, or
    /// `NAME.EXT.png` when two inputs share a name (an input's annotated copy never replaces another's). A video's
    /// annotated frames become `NAME.mp4` (H.264 when ffmpeg has libx264, else MPEG-4; at the source's frame rate
    /// divided by --vid-stride).
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,
    /// With --save-dir: write a video's annotated frames as `NAME_<frame>.png` instead of `NAME.mp4`.
    #[arg(long, requires = "save_dir")]
    pub save_frames: bool,
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

/// What every image and video frame needs on its way through the detector.
struct Shared<'a> {
    cli: &'a Opts,
    detector: Detector,
    /// `--classes` ids.
    keep: Option<Vec<u32>>,
}

/// Where one picture's outputs go with `--save-dir`.
struct Outputs {
    /// `labels/NAME.txt` (`--save-txt`).
    labels: Option<PathBuf>,
    /// The annotated PNG.
    png: Option<PathBuf>,
}

impl Shared<'_> {
    /// Detects in one picture, an image file or a video frame (one code path for both): runs the detector, keeps the
    /// `--classes`, writes the label file and the annotated PNG. Returns the annotated picture too when `annotate` is
    /// set (a video's encoder takes it).
    fn detect(
        &mut self,
        img: &Image,
        out: &Outputs,
        annotate: bool,
    ) -> anyhow::Result<(Found, Option<Image>)> {
        let mut detections = self.detector.detect(&img.view())?;
        let speed = self.detector.last_speed();
        if let Some(keep) = &self.keep {
            detections.retain(|d| keep.contains(&d.class_id));
        }
        if let Some(txt) = &out.labels {
            fs::atomic_write(
                txt,
                files::yolo_label_lines(&detections, img.width, img.height, self.cli.save_conf)
                    .as_bytes(),
            )
            .with_context(|| format!("writing {}", txt.display()))?;
        }
        let annotated = (annotate || out.png.is_some()).then(|| {
            let mut a = img.clone();
            yolo_rt::draw::annotate(&mut a, &detections, self.detector.class_names());
            a
        });
        if let (Some(png), Some(a)) = (&out.png, &annotated) {
            fs::atomic_write(png, &a.encode_png()?)
                .with_context(|| format!("writing {}", png.display()))?;
        }
        let found = Found {
            width: img.width,
            height: img.height,
            detections,
            saved: out.png.clone(),
            speed,
        };
        Ok((found, annotated.filter(|_| annotate)))
    }
}

/// The signal that stopped a video, if one did (only a build with `--features video` watches for them).
fn stop_signal() -> Option<i32> {
    #[cfg(feature = "video")]
    return video::stop_requested();
    #[cfg(not(feature = "video"))]
    None
}

/// Runs `trt-detect`; returns the exit code (1 when an input failed, 128 + the signal when Ctrl-C or SIGTERM stopped
/// a video).
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let cli = config.opts();
    let inputs = files::collect_inputs(&cli.inputs, &cli.video)?;
    let first_video = inputs.iter().find_map(|i| match i {
        Input::Video(v) => Some(v),
        Input::Image(_) => None,
    });
    #[cfg(not(feature = "video"))]
    if let Some(v) = first_video {
        bail!(source::not_built(v));
    }
    // Found before the model is loaded: a missing ffmpeg is said at once.
    #[cfg(feature = "video")]
    let ffmpeg = match first_video {
        Some(_) => Some(video::Ffmpeg::find(cli.ffmpeg.as_deref())?),
        None => None,
    };
    let out_names = match &cli.save_dir {
        Some(dir) => Some(files::output_names(&inputs, dir)?),
        None => None,
    };
    let detector = load_detector(cli)?;
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
    #[cfg(feature = "video")]
    if first_video.is_some() {
        video::watch_signals()?;
    }
    let mut shared = Shared {
        cli,
        keep: class_filter(cli)?,
        detector,
    };
    let mut report = Reporter::new(cli.json, shared.detector.class_names().to_vec());
    for (i, input) in inputs.iter().enumerate() {
        if stop_signal().is_some() {
            break;
        }
        let name = out_names.as_ref().map(|n| n[i].as_str());
        match input {
            Input::Image(path) => {
                let out = Outputs {
                    labels: save_path(cli, name, "labels/", ".txt").filter(|_| cli.save_txt),
                    png: save_path(cli, name, "", ".png"),
                };
                let r = Image::open(path)
                    .map_err(anyhow::Error::from)
                    .and_then(|img| shared.detect(&img, &out, false).map(|(f, _)| f));
                report.image(
                    path.display().to_string(),
                    None,
                    r.map_err(|e| format!("{e:#}")),
                )?;
            }
            #[cfg(feature = "video")]
            Input::Video(source) => {
                let ffmpeg = ffmpeg.as_ref().expect("found above");
                let summary = detect_video(&mut shared, ffmpeg, source, name, &mut report)?;
                report.video(summary)?;
            }
            #[cfg(not(feature = "video"))]
            Input::Video(_) => unreachable!("refused above"),
        }
    }
    let failures = report.finish(&cli.model, &shared.detector)?;
    if let Some(sig) = stop_signal() {
        return Ok(ExitCode::from(128u8.saturating_add(sig as u8)));
    }
    Ok(ExitCode::from(if failures > 0 {
        exit::FAILURE
    } else {
        exit::OK
    }))
}

/// `DIR/<sub>NAME<suffix>` with `--save-dir` (`name` is the input's output name).
fn save_path(cli: &Opts, name: Option<&str>, sub: &str, suffix: &str) -> Option<PathBuf> {
    Some(
        cli.save_dir
            .as_ref()?
            .join(format!("{sub}{}{suffix}", name?)),
    )
}

/// Runs one video source through the detector frame by frame; its frames are reported as they are done, and the
/// summary returned. Errors of the source (ffmpeg missing a codec, a truncated file, a frame that fails) end up in the
/// summary; only a failure to write to stdout is returned.
#[cfg(feature = "video")]
fn detect_video(
    shared: &mut Shared<'_>,
    ffmpeg: &video::Ffmpeg,
    source: &source::VideoSource,
    name: Option<&str>,
    report: &mut Reporter,
) -> anyhow::Result<report::VideoSummary> {
    use report::{Ended, FrameAt};
    let cli = shared.cli;
    let mut summary = report::VideoSummary {
        source: source.name(),
        frames: 0,
        decoded: 0,
        vid_stride: cli.vid_stride,
        fps: None,
        annotated: None,
        ended: Ended::End,
        error: None,
    };
    let mut decoder = match ffmpeg.decode(source, cli.vid_stride) {
        Ok(d) => d,
        Err(e) => {
            summary.ended = Ended::Error;
            summary.error = Some(format!("{e:#}"));
            return Ok(summary);
        }
    };
    let mut encoder: Option<video::Encoder> = None;
    let write_video = cli.save_dir.is_some() && !cli.save_frames;
    // With nothing written but stdout, a closed stdout ends the source (a camera would run for nothing).
    let writes_files = cli.save_dir.is_some();
    let outcome: anyhow::Result<Ended> = loop {
        if cli.max_frames.is_some_and(|m| summary.frames >= m) {
            break Ok(Ended::MaxFrames);
        }
        let closed = report.stdout_closed() && !writes_files;
        let next = decoder.next(&|| closed || video::stop_requested().is_some());
        let (index, img) = match next {
            Ok(video::Next::Frame(i, img)) => (i, img),
            Ok(video::Next::End) => break Ok(Ended::End),
            Ok(video::Next::Stopped) if video::stop_requested().is_some() => {
                break Ok(Ended::Interrupted)
            }
            Ok(video::Next::Stopped) => break Ok(Ended::StdoutClosed),
            Err(e) => break Err(e),
        };
        if summary.frames == 0 {
            summary.fps = decoder.fps();
            if summary.fps.is_none() && !cli.json {
                eprintln!(
                    "trt-detect: warning: {}: ffmpeg stated no frame rate; frames carry no timestamp",
                    summary.source
                );
            }
        }
        let at = FrameAt {
            index,
            timestamp_s: summary.fps.map(|f| index as f64 / f),
        };
        let frame_name = name.map(|n| format!("{n}_{index}"));
        let out = Outputs {
            labels: save_path(cli, frame_name.as_deref(), "labels/", ".txt")
                .filter(|_| cli.save_txt),
            png: save_path(cli, frame_name.as_deref(), "", ".png").filter(|_| cli.save_frames),
        };
        let done = shared
            .detect(&img, &out, write_video)
            .and_then(|(found, annotated)| {
                if let (Some(a), Some(n)) = (annotated, name) {
                    if encoder.is_none() {
                        let dir = cli.save_dir.as_ref().expect("write_video needs --save-dir");
                        // The source's rate over the stride: the annotated video lasts as long as the source.
                        let fps = summary.fps.unwrap_or(30.0) / cli.vid_stride as f64;
                        encoder = Some(ffmpeg.encode(
                            &dir.join(format!("{n}.mp4")),
                            a.width,
                            a.height,
                            fps,
                        )?);
                    }
                    if let Err(e) = encoder.as_mut().expect("created above").write(&a) {
                        // Killed, reaped and its temporary file removed: a broken encoder is not finished.
                        encoder = None;
                        return Err(e);
                    }
                }
                Ok(found)
            });
        match done {
            Ok(found) => {
                summary.frames += 1;
                report.image(summary.source.clone(), Some(at), Ok(found))?;
            }
            Err(e) => break Err(e.context(format!("frame {index}"))),
        }
    };
    summary.decoded = summary.decoded.max(decoder.decoded());
    // ffmpeg is stopped and reaped before the video is finished.
    drop(decoder);
    match outcome {
        Ok(ended) => summary.ended = ended,
        Err(e) => {
            summary.ended = Ended::Error;
            summary.error = Some(format!("{e:#}"));
        }
    }
    // The annotated video holds every frame reported, also when the source failed or was interrupted.
    if let Some(enc) = encoder {
        match enc.finish() {
            Ok((path, _)) => summary.annotated = Some(path),
            Err(e) if summary.error.is_none() => {
                summary.ended = Ended::Error;
                summary.error = Some(format!("{e:#}"));
            }
            Err(e) => eprintln!("trt-detect: error: {}: {e:#}", summary.source),
        }
    }
    Ok(summary)
}
