//! trt-detect's files: the inputs named on the command line (directories expanded), and the names of what it writes
//! per input with --save-dir (annotated copies and videos, YOLO label files).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use yolo_rt::Detection;

use super::source::{self, Input, VideoSource};

pub(super) fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// The inputs of the command line in order: directories expanded (sorted, not recursive; images, and videos in a build
/// with `--features video`), camera indexes and stream URLs recognised ([`source::live_source`]), files with a video
/// extension read as videos and every other file as an image; then each `--video` source. A missing path is an error.
pub(super) fn collect_inputs(inputs: &[PathBuf], videos: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for p in inputs {
        if let Some(live) = source::live_source(p.as_os_str()) {
            out.push(Input::Video(live));
        } else if p.is_dir() {
            scan_dir(p, &mut out)?;
        } else if p.exists() {
            out.push(if source::is_video_file(p) {
                Input::Video(VideoSource::File(p.clone()))
            } else {
                Input::Image(p.clone())
            });
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    for v in videos {
        match source::live_source(v.as_os_str()) {
            Some(live) => out.push(Input::Video(live)),
            None if v.is_dir() => bail!(
                "--video {}: is a directory; give directories as plain inputs",
                v.display()
            ),
            None if v.exists() => out.push(Input::Video(VideoSource::File(v.clone()))),
            None => bail!("--video {}: no such file", v.display()),
        }
    }
    Ok(out)
}

/// A directory's images (and videos, with `--features video`), sorted, into `out`; what is skipped is said once.
fn scan_dir(p: &Path, out: &mut Vec<Input>) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(p)
        .with_context(|| format!("reading directory {}", p.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.is_file())
        .collect();
    files.sort();
    let mut found = 0;
    let (mut skipped, mut videos_skipped) = (Vec::new(), 0);
    for f in files {
        if has_ext(&f, yolo_rt::IMAGE_EXTENSIONS) {
            out.push(Input::Image(f));
            found += 1;
        } else if source::is_video_file(&f) && cfg!(feature = "video") {
            out.push(Input::Video(VideoSource::File(f)));
            found += 1;
        } else {
            videos_skipped += usize::from(source::is_video_file(&f));
            skipped.push(f);
        }
    }
    if found == 0 {
        eprintln!(
            "trt-detect: warning: {} contains no images ({})",
            p.display(),
            yolo_rt::IMAGE_EXTENSIONS.join(", ")
        );
    }
    if !skipped.is_empty() {
        let names: Vec<String> = skipped
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = names.len().saturating_sub(5);
        let what = if cfg!(feature = "video") {
            "images or videos"
        } else {
            "images"
        };
        eprintln!(
            "trt-detect: note: skipped {} file(s) in {} that are not {what} ({shown}{}); subdirectories are not \
             searched{}",
            names.len(),
            p.display(),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            if videos_skipped > 0 {
                format!(
                    "; {videos_skipped} of them are videos, read by a build with `--features video`"
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Ultralytics' label lines: `class cx cy w h [conf]`, normalized to the image size.
pub(super) fn yolo_label_lines(
    dets: &[Detection],
    width: usize,
    height: usize,
    conf: bool,
) -> String {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let mut s = String::new();
    for d in dets {
        let [x1, y1, x2, y2] = d.bbox;
        s.push_str(&format!(
            "{} {:.6} {:.6} {:.6} {:.6}",
            d.class_id,
            (x1 + x2) / 2.0 / w,
            (y1 + y2) / 2.0 / h,
            (x2 - x1) / w,
            (y2 - y1) / h
        ));
        if conf {
            s.push_str(&format!(" {:.6}", d.score));
        }
        s.push('\n');
    }
    s
}

/// The name each input's outputs take under `--save-dir` (`NAME.png` for an image; `NAME.mp4`, `NAME_<frame>.png`
/// and `labels/NAME_<frame>.txt` for a video): the file's stem, or its whole file name when two inputs share a stem
/// (`street.png.png`, `street.bmp.png`); inputs whose names still collide (the same file name in two directories) are
/// refused before any work.
pub(super) fn output_names(inputs: &[Input], dir: &Path) -> anyhow::Result<Vec<String>> {
    use std::collections::HashMap;
    let stem = |i: &Input| match i {
        Input::Image(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into()),
        Input::Video(v) => v.stem(),
    };
    let mut by_stem: HashMap<String, usize> = HashMap::new();
    for i in inputs {
        *by_stem.entry(stem(i)).or_default() += 1;
    }
    let names: Vec<String> = inputs
        .iter()
        .map(|i| {
            let s = stem(i);
            match i {
                Input::Image(p) | Input::Video(VideoSource::File(p)) if by_stem[&s] > 1 => p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(s),
                _ => s,
            }
        })
        .collect();
    let mut seen: HashMap<String, &Input> = HashMap::new();
    for (n, i) in names.iter().zip(inputs) {
        let file = match i {
            Input::Image(_) => format!("{n}.png"),
            Input::Video(_) => format!("{n}.mp4"),
        };
        if let Some(first) = seen.insert(file.clone(), i) {
            if first != i {
                bail!(
                    "--save-dir: {} and {} would both be saved as {}; process them separately or rename one",
                    input_name(first),
                    input_name(i),
                    dir.join(file).display()
                );
            }
        }
    }
    Ok(names)
}

/// How reports and errors name an input.
pub(super) fn input_name(i: &Input) -> String {
    match i {
        Input::Image(p) => p.display().to_string(),
        Input::Video(v) => v.name(),
    }
}
