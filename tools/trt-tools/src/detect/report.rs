//! What trt-detect prints: a text line per image or video frame as soon as it is done (a camera's frames appear as
//! they come), or one `--json` document (`trt-detect/1`) at the end; what failed is named on stderr at the end.
//!
//! A closed stdout loses only the report ([`Reporter::stdout_closed`] tells the video loop, which stops a source
//! whose frames nobody reads): the inputs that failed are still named on stderr and the exit code still says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use yolo_rt::{Detection, Detector, Speed};

use crate::common::output;

/// The outcome of one image or video frame that went through the detector.
pub(super) struct Found {
    pub width: usize,
    pub height: usize,
    pub detections: Vec<Detection>,
    /// The annotated PNG written (`--save-dir`; a video's frames with `--save-frames`).
    pub saved: Option<PathBuf>,
    pub speed: Speed,
}

/// Where a video frame lies in its source.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameAt {
    /// 0-based over every decoded frame of the source (`--vid-stride` skips some).
    pub index: u64,
    /// `index / fps`, in seconds, when ffmpeg stated the frame rate.
    pub timestamp_s: Option<f64>,
}

/// Why a video source ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(feature = "video"), allow(dead_code))]
pub(super) enum Ended {
    /// The file or stream ended.
    End,
    /// `--max-frames` frames were detected in.
    MaxFrames,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// stdout was closed and nothing else was being written.
    StdoutClosed,
    /// An error (see the summary's `error`).
    Error,
}

/// One video source, summed up after its last frame.
pub(super) struct VideoSummary {
    pub source: String,
    /// Frames detected in.
    pub frames: u64,
    /// Frames decoded (those `--vid-stride` skipped included).
    pub decoded: u64,
    pub vid_stride: u64,
    /// The source's frame rate, as ffmpeg stated it.
    pub fps: Option<f64>,
    /// The annotated video written (`--save-dir` without `--save-frames`).
    pub annotated: Option<PathBuf>,
    pub ended: Ended,
    pub error: Option<String>,
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
    path: &'a str,
    /// A video frame's index in its source.
    #[serde(skip_serializing_if = "Option::is_none")]
    frame: Option<u64>,
    /// A video frame's time in its source, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_s: Option<f64>,
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
    speed_ms: Option<Speed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonVideo<'a> {
    source: &'a str,
    frames: u64,
    decoded: u64,
    vid_stride: u64,
    fps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotated: Option<String>,
    ended: Ended,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The `--json` document (schema `trt-detect/1`): `images` holds every image and every video frame (those with a
/// `frame` and `timestamp_s`), `videos` (present when there are any) one summary per video source.
#[derive(Serialize)]
struct JsonReport<'a> {
    model: String,
    backend: String,
    layout: String,
    warnings: &'a [String],
    images: Vec<JsonImage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    videos: Vec<JsonVideo<'a>>,
}

/// One image or frame as reported.
struct Entry {
    path: String,
    frame: Option<FrameAt>,
    outcome: Result<Found, String>,
}

/// Collects and prints the results.
pub(super) struct Reporter {
    json: bool,
    names: Vec<String>,
    stdout_closed: bool,
    /// Every image and frame with `--json`; otherwise the failed images only (printed lines are not kept, so a
    /// camera can run for days).
    entries: Vec<Entry>,
    videos: Vec<VideoSummary>,
    failures: usize,
}

impl Reporter {
    /// A reporter printing text lines (or, with `json`, one document at the end), naming classes with `names`.
    pub(super) fn new(json: bool, names: Vec<String>) -> Reporter {
        Reporter {
            json,
            names,
            stdout_closed: false,
            entries: Vec::new(),
            videos: Vec::new(),
            failures: 0,
        }
    }

    #[cfg_attr(not(feature = "video"), allow(dead_code))]
    /// Whether stdout was found closed (a reader that went away, `| head`).
    pub(super) fn stdout_closed(&self) -> bool {
        self.stdout_closed
    }

    /// An image, or a video frame (`frame`), done or failed. Text lines are printed at once; any stdout error but a
    /// closed pipe is returned.
    pub(super) fn image(
        &mut self,
        path: String,
        frame: Option<FrameAt>,
        outcome: Result<Found, String>,
    ) -> anyhow::Result<()> {
        if outcome.is_err() {
            self.failures += 1;
        }
        let entry = Entry {
            path,
            frame,
            outcome,
        };
        if self.json || entry.outcome.is_err() {
            self.entries.push(entry);
        } else {
            let text = self.text_of(&entry)?;
            self.print(&text)?;
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "video"), allow(dead_code))]
    /// A video source's summary, after its last frame.
    pub(super) fn video(&mut self, v: VideoSummary) -> anyhow::Result<()> {
        if v.error.is_some() {
            self.failures += 1;
        }
        // A source that failed before its first frame has only its error to show (on stderr, at the end).
        if !self.json && (v.frames > 0 || v.error.is_none()) {
            let mut text = format!(
                "{}: {} frame(s) detected in, {} decoded",
                v.source, v.frames, v.decoded
            );
            if v.vid_stride > 1 {
                write!(text, " (every {}th)", v.vid_stride)?;
            }
            if let Some(fps) = v.fps {
                write!(text, ", {fps} fps")?;
            }
            match v.ended {
                Ended::MaxFrames => text.push_str("; stopped at --max-frames"),
                Ended::Interrupted => text.push_str("; interrupted"),
                _ => {}
            }
            text.push('\n');
            if let Some(a) = &v.annotated {
                writeln!(text, "  annotated: {}", a.display())?;
            }
            self.print(&text)?;
        }
        self.videos.push(v);
        Ok(())
    }

    fn print(&mut self, text: &str) -> anyhow::Result<()> {
        if self.stdout_closed {
            return Ok(());
        }
        match output::print_out(text) {
            Err(e) if output::is_broken_pipe(&e) => {
                self.stdout_closed = true;
                Ok(())
            }
            r => r.context("writing to stdout"),
        }
    }

    fn name_of(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    /// An entry's text: `PATH[ frame N (T s)]: K detection(s), WxH; speed …`, a line per detection, the annotated file.
    fn text_of(&self, e: &Entry) -> anyhow::Result<String> {
        let mut text = String::new();
        let Ok(f) = &e.outcome else {
            return Ok(text);
        };
        text.push_str(&e.path);
        match e.frame {
            Some(FrameAt {
                index,
                timestamp_s: Some(t),
            }) => write!(text, " frame {index} ({t:.3} s)")?,
            Some(FrameAt { index, .. }) => write!(text, " frame {index}")?,
            None => {}
        }
        writeln!(
            text,
            ": {} detection(s), {}x{}; speed {:.1} ms preprocess, {:.1} ms inference, {:.1} ms postprocess",
            f.detections.len(),
            f.width,
            f.height,
            f.speed.preprocess,
            f.speed.inference,
            f.speed.postprocess
        )?;
        for d in &f.detections {
            let label = self
                .name_of(d.class_id)
                .map_or_else(|| format!("class {}", d.class_id), str::to_string);
            let [x1, y1, x2, y2] = d.bbox;
            writeln!(
                text,
                "  {label} {:.3} [{x1:.1}, {y1:.1}, {x2:.1}, {y2:.1}]",
                d.score
            )?;
        }
        if let Some(s) = &f.saved {
            writeln!(text, "  annotated: {}", s.display())?;
        }
        Ok(text)
    }

    /// Prints the `--json` document, then names every failure on stderr; returns how many inputs failed.
    pub(super) fn finish(mut self, model: &Path, detector: &Detector) -> anyhow::Result<usize> {
        if self.json {
            let report = JsonReport {
                model: model.display().to_string(),
                backend: detector.backend().name(),
                layout: detector.decoder().layout().kind().to_string(),
                warnings: detector.warnings(),
                images: self.entries.iter().map(|e| self.json_of(e)).collect(),
                videos: self
                    .videos
                    .iter()
                    .map(|v| JsonVideo {
                        source: &v.source,
                        frames: v.frames,
                        decoded: v.decoded,
                        vid_stride: v.vid_stride,
                        fps: v.fps,
                        annotated: v.annotated.as_ref().map(|a| a.display().to_string()),
                        ended: v.ended,
                        error: v.error.as_deref(),
                    })
                    .collect(),
            };
            match output::print_json("trt-detect/1", &report) {
                Err(e) if output::is_broken_pipe(&e) => self.stdout_closed = true,
                r => r.context("writing to stdout")?,
            }
        }
        for e in &self.entries {
            if let Err(msg) = &e.outcome {
                eprintln!("trt-detect: error: {}: {msg}", e.path);
            }
        }
        for v in &self.videos {
            if let Some(msg) = &v.error {
                eprintln!("trt-detect: error: {}: {msg}", v.source);
            }
        }
        Ok(self.failures)
    }

    fn json_of<'a>(&'a self, e: &'a Entry) -> JsonImage<'a> {
        let (frame, timestamp_s) = match e.frame {
            Some(f) => (Some(f.index), f.timestamp_s),
            None => (None, None),
        };
        match &e.outcome {
            Ok(f) => JsonImage {
                path: &e.path,
                frame,
                timestamp_s,
                width: Some(f.width),
                height: Some(f.height),
                detections: Some(
                    f.detections
                        .iter()
                        .map(|d| JsonDetection {
                            class_id: d.class_id,
                            class_name: self.name_of(d.class_id),
                            score: d.score,
                            bbox: d.bbox,
                        })
                        .collect(),
                ),
                annotated: f.saved.as_ref().map(|s| s.display().to_string()),
                speed_ms: Some(f.speed),
                error: None,
            },
            Err(msg) => JsonImage {
                path: &e.path,
                frame,
                timestamp_s,
                width: None,
                height: None,
                detections: None,
                annotated: None,
                speed_ms: None,
                error: Some(msg),
            },
        }
    }
}
