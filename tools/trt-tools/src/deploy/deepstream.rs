//! DeepStream (Gst-nvinfer): a primary-detector config for an engine, with the box parser `libnvds_yolo_parser.so`
//! (the `nvds-yolo-parser` crate: yolo-rt's decode behind `NvDsInferParseCustomYolo`).
//!
//! `DIR/config_infer_primary.txt` names the engine (`model-engine-file`), its precision (`network-mode`), the class
//! count and `DIR/labels.txt`, the preprocessing our engines expect (RGB, /255, letterbox: `maintain-aspect-ratio=1`,
//! `symmetric-padding=1`) and the parser. nvinfer clusters with NMS (`cluster-mode=2`); end-to-end engines
//! (EfficientNMS outputs) are not clustered again (`cluster-mode=4`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use trt::sidecar::{Precision, Sidecar, TensorMode};
use yolo_rt::decode::{detect_layout, Layout, OutputInfo};

/// The parser library's file name.
pub const PARSER_LIB: &str = "libnvds_yolo_parser.so";
/// The function nvinfer calls.
pub const PARSER_FUNCTION: &str = "NvDsInferParseCustomYolo";

/// Finds the parser library: `given`, else next to the running program (where cargo and the images put it), else
/// in `../lib` beside it.
pub fn parser_library(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            bail!(
                "--deepstream-lib {}: no such file (build it with `cargo build --release -p nvds-yolo-parser`: \
                 target/release/{PARSER_LIB})",
                p.display()
            );
        }
        return absolute(p);
    }
    let exe = std::env::current_exe().context("--deepstream: locating this program")?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let tried = [
        dir.join(PARSER_LIB),
        dir.join("..").join("lib").join(PARSER_LIB),
    ];
    for p in &tried {
        if p.is_file() {
            return absolute(p);
        }
    }
    bail!(
        "--deepstream: the box parser {PARSER_LIB} is not next to this program (looked at {}); build it with \
         `cargo build --release -p nvds-yolo-parser` or give --deepstream-lib PATH",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("resolving {}", p.display()))
}

/// What the parser will decode, from the outputs' names and shapes (a dynamic dimension counted as 1): the layout
/// and the class count it states, or why nvinfer cannot be served.
pub fn check_layout(outputs: &[(String, Vec<i64>)]) -> Result<(Layout, Option<usize>)> {
    let infos: Vec<OutputInfo> = outputs
        .iter()
        .map(|(name, dims)| OutputInfo {
            name: name.clone(),
            shape: dims.iter().map(|&d| d.max(1) as usize).collect(),
        })
        .collect();
    let detected = detect_layout(&infos, None).map_err(|e| {
        anyhow::anyhow!(
            "--deepstream: the engine's outputs are no layout the DeepStream parser decodes: {e}"
        )
    })?;
    let classes = match &detected.layout {
        Layout::V7Grid { classes, .. } | Layout::V9 { classes, .. } | Layout::V9Dual { classes, .. } => {
            Some(*classes)
        }
        Layout::EfficientNms { .. } => None,
        other => bail!(
            "--deepstream: the {} layout cannot be expressed for nvinfer's parser: export YOLOv7 with --grid \
             (decoded boxes) or add EfficientNMS (--end2end)",
            other.kind()
        ),
    };
    Ok((detected.layout, classes))
}

/// The files [`write()`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct DeepStreamFiles {
    /// `DIR/config_infer_primary.txt`.
    pub config: PathBuf,
    /// `DIR/labels.txt`.
    pub labels: PathBuf,
    /// The parser library the config names.
    pub parser_library: PathBuf,
}

/// The nvinfer config text for `engine` (an absolute path) described by `sidecar`.
pub fn config_txt(
    engine: &Path,
    sidecar: &Sidecar,
    labels: &Path,
    parser: &Path,
) -> Result<String> {
    render(engine, sidecar, labels, parser).map(|(text, _)| text)
}

/// [`config_txt`] and the class count it states (`num-detected-classes`, the labels file's length).
fn render(
    engine: &Path,
    sidecar: &Sidecar,
    labels: &Path,
    parser: &Path,
) -> Result<(String, usize)> {
    let outputs: Vec<(String, Vec<i64>)> = sidecar
        .io
        .iter()
        .filter(|t| t.mode == TensorMode::Output)
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    let (layout, classes) = check_layout(&outputs)?;
    let classes = match (classes, sidecar.class_names.len()) {
        (Some(n), 0) => n,
        (Some(n), k) if k != n => bail!(
            "--deepstream: the engine records {k} class names but its output has {n} classes; rebuild with a \
             --classes list of {n} names"
        ),
        (Some(n), _) => n,
        (None, 0) => bail!(
            "--deepstream: an end-to-end engine does not state its class count; give the class names with --classes"
        ),
        (None, k) => k,
    };
    let inputs: Vec<_> = sidecar
        .io
        .iter()
        .filter(|t| t.mode == TensorMode::Input)
        .collect();
    let [input] = inputs.as_slice() else {
        bail!(
            "--deepstream: nvinfer feeds one image input; the engine has {}",
            inputs.len()
        );
    };
    let opt = sidecar
        .profiles
        .first()
        .and_then(|p| p.inputs.iter().find(|r| r.name == input.name));
    let dim = |i: usize| -> Result<i64> {
        match input.shape.get(i) {
            Some(&d) if d > 0 => Ok(d),
            Some(_) => opt
                .and_then(|r| r.opt.get(i).copied())
                .filter(|&d| d > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--deepstream: input `{}` dimension {i} is dynamic",
                        input.name
                    )
                }),
            None => bail!(
                "--deepstream: input `{}` is {:?}, not NCHW",
                input.name,
                input.shape
            ),
        }
    };
    if input.shape.len() != 4 || dim(1)? != 3 {
        bail!(
            "--deepstream: input `{}` is {:?}; nvinfer feeds a [N, 3, H, W] RGB image",
            input.name,
            input.shape
        );
    }
    let batch = match input.shape[0] {
        d if d > 0 => d,
        _ => opt.and_then(|r| r.max.first().copied()).unwrap_or(1),
    };
    let network_mode = match sidecar.precision {
        Precision::Fp32 => 0,
        Precision::Int8 => 1,
        Precision::Fp16 | Precision::Mixed => 2,
        Precision::Fp8 => bail!("--deepstream: nvinfer has no network-mode for FP8 engines"),
    };
    let end_to_end = layout.is_end_to_end();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Gst-nvinfer primary detector, written by trt-build {} for {} ({:?}).",
        env!("CARGO_PKG_VERSION"),
        engine.display(),
        layout.kind()
    );
    let _ = writeln!(s, "[property]");
    let _ = writeln!(s, "gpu-id=0");
    let _ = writeln!(s, "net-scale-factor=0.0039215697906911373");
    let _ = writeln!(s, "model-color-format=0");
    let _ = writeln!(s, "model-engine-file={}", engine.display());
    let _ = writeln!(s, "labelfile-path={}", labels.display());
    let _ = writeln!(s, "infer-dims=3;{};{}", dim(2)?, dim(3)?);
    let _ = writeln!(s, "batch-size={batch}");
    let _ = writeln!(s, "network-mode={network_mode}");
    let _ = writeln!(s, "num-detected-classes={classes}");
    let _ = writeln!(s, "interval=0");
    let _ = writeln!(s, "gie-unique-id=1");
    let _ = writeln!(s, "process-mode=1");
    let _ = writeln!(s, "network-type=0");
    let _ = writeln!(s, "cluster-mode={}", if end_to_end { 4 } else { 2 });
    let _ = writeln!(s, "maintain-aspect-ratio=1");
    let _ = writeln!(s, "symmetric-padding=1");
    let _ = writeln!(s, "parse-bbox-func-name={PARSER_FUNCTION}");
    let _ = writeln!(s, "custom-lib-path={}", parser.display());
    let _ = writeln!(s);
    let _ = writeln!(s, "[class-attrs-all]");
    let _ = writeln!(s, "pre-cluster-threshold=0.25");
    if !end_to_end {
        let _ = writeln!(s, "nms-iou-threshold=0.45");
    }
    let _ = writeln!(s, "topk=300");
    Ok((s, classes))
}

/// Writes `DIR/config_infer_primary.txt` and `DIR/labels.txt` for `engine` (each atomically, the labels first).
pub fn write(
    dir: &Path,
    engine: &Path,
    sidecar: &Sidecar,
    parser: &Path,
) -> Result<DeepStreamFiles> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--deepstream: cannot create {}", dir.display()))?;
    let dir = absolute(dir)?;
    let engine = absolute(engine)?;
    let labels = dir.join("labels.txt");
    let (config, classes) = render(&engine, sidecar, &labels, parser)?;
    let mut text = String::new();
    for i in 0..classes {
        let name = sidecar
            .class_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class{i}"));
        text.push_str(&name);
        text.push('\n');
    }
    crate::common::fs::atomic_write(&labels, text.as_bytes())
        .with_context(|| format!("--deepstream: writing {}", labels.display()))?;
    let config_path = dir.join("config_infer_primary.txt");
    crate::common::fs::atomic_write(&config_path, config.as_bytes())
        .with_context(|| format!("--deepstream: writing {}", config_path.display()))?;
    Ok(DeepStreamFiles {
        config: config_path,
        labels,
        parser_library: parser.to_path_buf(),
    })
}
