//! trt-detect's files: the images named on the command line (directories expanded), and what it writes per image
//! with --save-dir (annotated copies, YOLO label files).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use yolo_rt::Detection;

pub(super) fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Expands directories (sorted, images only); plain files are taken as given.
pub(super) fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let (mut files, skipped): (Vec<PathBuf>, Vec<PathBuf>) = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .partition(|f| has_ext(f, yolo_rt::IMAGE_EXTENSIONS));
            files.sort();
            if files.is_empty() {
                eprintln!(
                    "trt-detect: warning: {} contains no images ({})",
                    p.display(),
                    yolo_rt::IMAGE_EXTENSIONS.join(", ")
                );
            }
            if !skipped.is_empty() {
                let mut names: Vec<String> = skipped
                    .iter()
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                names.sort();
                let shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
                let more = names.len().saturating_sub(5);
                eprintln!(
                    "trt-detect: note: skipped {} file(s) in {} that are not images ({shown}{}); \
                     subdirectories are not searched",
                    names.len(),
                    p.display(),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
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

/// The annotated file of each input under `dir`: `NAME.png`, or `NAME.EXT.png` for inputs sharing a name; inputs
/// whose names still collide (the same file name in two directories) are refused before any work.
pub(super) fn annotated_paths(images: &[PathBuf], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
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
