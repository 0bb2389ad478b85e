//! Build recipes: `engines/<model>.<target>.toml`.
//!
//! A recipe holds everything `trt-build` needs for one model on one target; `trt-build --recipe FILE` uses it and
//! command-line options override single values. Relative paths in a recipe are relative to the recipe's own
//! directory, so a recipe works from any working directory.
//!
//! ```toml
//! description = "YOLOv7-tiny, FP16, NVIDIA T4"
//!
//! [source]
//! onnx = "../models/yolov7-tiny.onnx"     # user-provided; see engines/README.md for where to get it
//!
//! [pipeline]                               # all optional
//! reparam = true
//! verify = true
//! explicit = false
//! keep_fp32 = []
//!
//! [build]
//! precision = "fp16"                       # fp32 | fp16 | int8 | best
//! output = "out/yolov7-tiny.fp16.t4.engine"
//! workspace = "2G"
//! opt_level = 3
//! profiling_verbosity = "layer_names_only"
//!
//! [[profiles]]                             # or: shapes = "images:1x3x640x640" in [build]
//! min = "images:1x3x640x640"
//! opt = "images:4x3x640x640"
//! max = "images:8x3x640x640"
//!
//! [calibration]                            # int8 only
//! data = "../datasets/coco-calib"
//! cache = "out/yolov7-tiny.t4.calib"
//! algo = "minmax"
//! batches = 64
//!
//! [target]
//! gpu = "t4"                               # file-name token
//! compute_capability = "7.5"
//! tensorrt = "10.3"                        # release the recipe is written for
//! dla_core = 0                             # Jetson only
//! allow_gpu_fallback = true
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::options::{CalibAlgo, ProfilingVerbosity};
use super::release::Precision;
use trt::Version;

/// A parsed recipe with its paths made absolute (relative to the recipe's directory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// One line shown in the plan.
    #[serde(default)]
    pub description: Option<String>,
    /// The ONNX model.
    pub source: Source,
    /// ONNX pipeline settings.
    #[serde(default)]
    pub pipeline: Pipeline,
    /// Builder settings.
    pub build: Build,
    /// Optimization profiles (min/opt/max shape specs).
    #[serde(default)]
    pub profiles: Vec<RecipeProfile>,
    /// INT8 calibration.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// The device and TensorRT release the recipe is for.
    pub target: Target,
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Path of the ONNX model.
    pub onnx: PathBuf,
    /// Where users get the model (informational).
    #[serde(default)]
    pub origin: Option<String>,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Re-parameterize (default true).
    #[serde(default = "yes")]
    pub reparam: bool,
    /// Verify every pass on the CPU executor (default true).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Use the ONNX passes on ≤ 10.x.
    #[serde(default)]
    pub explicit: bool,
    /// Node/layer patterns kept in FP32.
    #[serde(default)]
    pub keep_fp32: Vec<String>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            reparam: true,
            verify: true,
            explicit: false,
            keep_fp32: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `[build]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Precision.
    pub precision: RecipePrecision,
    /// Engine path.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// Static shapes (alternative to `[[profiles]]`).
    #[serde(default)]
    pub shapes: Option<String>,
    /// Workspace size (`2G`).
    #[serde(default)]
    pub workspace: Option<String>,
    /// Further memory pool limits, trtexec syntax.
    #[serde(default)]
    pub mem_pool_size: Vec<String>,
    /// Builder optimization level.
    #[serde(default)]
    pub opt_level: Option<u8>,
    /// Version-compatible engine.
    #[serde(default)]
    pub version_compatible: bool,
    /// Hardware compatibility level.
    #[serde(default)]
    pub hardware_compatibility: Option<String>,
    /// Layer information kept in the engine.
    #[serde(default)]
    pub profiling_verbosity: Option<ProfilingVerbosity>,
    /// Timing cache file.
    #[serde(default)]
    pub timing_cache: Option<PathBuf>,
    /// Plugin libraries.
    #[serde(default)]
    pub plugins: Vec<PathBuf>,
    /// Layer precisions (`name:fp32`).
    #[serde(default)]
    pub layer_precisions: Vec<String>,
    /// Disable TF32.
    #[serde(default)]
    pub no_tf32: bool,
}

/// Precision in a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipePrecision {
    /// FP32.
    Fp32,
    /// FP16.
    Fp16,
    /// INT8.
    Int8,
    /// FP16 + INT8.
    Best,
}

impl From<RecipePrecision> for Precision {
    fn from(p: RecipePrecision) -> Self {
        match p {
            RecipePrecision::Fp32 => Precision::Fp32,
            RecipePrecision::Fp16 => Precision::Fp16,
            RecipePrecision::Int8 => Precision::Int8,
            RecipePrecision::Best => Precision::Best,
        }
    }
}

/// `[[profiles]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeProfile {
    /// Minimum shapes (defaults to `opt`).
    #[serde(default)]
    pub min: Option<String>,
    /// Optimum shapes.
    pub opt: String,
    /// Maximum shapes (defaults to `opt`).
    #[serde(default)]
    pub max: Option<String>,
}

/// `[calibration]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Directory of calibration images or `.npy` tensors.
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// Calibration cache.
    #[serde(default)]
    pub cache: Option<PathBuf>,
    /// Algorithm.
    #[serde(default)]
    pub algo: Option<CalibAlgo>,
    /// Number of batches.
    #[serde(default)]
    pub batches: Option<u32>,
}

/// `[target]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// File-name token of the device (`t4`, `xavier`, `orin`).
    pub gpu: String,
    /// Compute capability the engine is for (`7.5`); a build on another GPU is refused.
    #[serde(default)]
    pub compute_capability: Option<String>,
    /// TensorRT release the recipe is written for (`10.3`, `8.5`); plans use it when no TensorRT is installed.
    pub tensorrt: String,
    /// DLA core.
    #[serde(default)]
    pub dla_core: Option<u32>,
    /// GPU fallback for DLA.
    #[serde(default)]
    pub allow_gpu_fallback: bool,
}

impl Recipe {
    /// Reads and checks a recipe; relative paths become relative to the recipe's directory.
    pub fn load(path: &Path) -> Result<Recipe> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("recipe {}: cannot read", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &dir).with_context(|| format!("recipe {}", path.display()))
    }

    /// Parses recipe text; `dir` is the base of relative paths.
    pub fn parse(text: &str, dir: &Path) -> Result<Recipe> {
        // toml's messages span several lines (with a caret); keep the first line and the position.
        let mut r: Recipe = toml::from_str(text).map_err(|e| {
            let pos = e.span().map(|s| line_col(text, s.start));
            let msg = e.message().replace('\n', " ");
            match pos {
                Some((l, c)) => anyhow::anyhow!("line {l}, column {c}: {msg}"),
                None => anyhow::anyhow!("{msg}"),
            }
        })?;
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        abs(&mut r.source.onnx);
        if let Some(o) = r.build.output.as_mut() {
            abs(o);
        }
        if let Some(t) = r.build.timing_cache.as_mut() {
            abs(t);
        }
        for p in &mut r.build.plugins {
            // a bare library name (libfoo.so) is left to the dynamic loader
            if p.components().count() > 1 {
                abs(p);
            }
        }
        if let Some(c) = r.calibration.as_mut() {
            if let Some(d) = c.data.as_mut() {
                abs(d);
            }
            if let Some(d) = c.cache.as_mut() {
                abs(d);
            }
        }
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<()> {
        if self.build.shapes.is_some() && !self.profiles.is_empty() {
            bail!("[build] shapes and [[profiles]] both given; use one");
        }
        super::options::parse_release(&self.target.tensorrt)
            .map_err(|e| anyhow::anyhow!("[target] tensorrt: {e}"))?;
        if let Some(cc) = &self.target.compute_capability {
            parse_cc(cc).map_err(|e| anyhow::anyhow!("[target] compute_capability: {e}"))?;
        }
        if self.target.gpu.is_empty()
            || !self
                .target
                .gpu
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            bail!(
                "[target] gpu `{}` must be a file-name token (letters, digits, `-`)",
                self.target.gpu
            );
        }
        if let Some(hc) = &self.build.hardware_compatibility {
            super::release::HardwareCompat::parse(hc)
                .map_err(|e| anyhow::anyhow!("[build] hardware_compatibility: {e}"))?;
        }
        if let Some(w) = &self.build.workspace {
            super::options::parse_size(w).map_err(|e| anyhow::anyhow!("[build] workspace: {e}"))?;
        }
        if let Some(l) = self.build.opt_level {
            if l > 5 {
                bail!("[build] opt_level {l} is out of range 0..5");
            }
        }
        let p: Precision = self.build.precision.into();
        if matches!(p, Precision::Int8 | Precision::Best) {
            let c = self.calibration.as_ref();
            if c.is_none_or(|c| c.data.is_none() && c.cache.is_none()) {
                bail!("precision {p} needs [calibration] data = \"DIR\" or cache = \"FILE\"");
            }
        }
        Ok(())
    }

    /// The release the recipe is written for.
    pub fn tensorrt(&self) -> Version {
        // checked in `check`
        super::options::parse_release(&self.target.tensorrt).unwrap_or(Version::new(0, 0, 0))
    }
}

/// Parses `7.5` into (7, 5).
pub fn parse_cc(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a compute capability like 7.5");
    let (a, b) = s.split_once('.').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
description = "test"
[source]
onnx = "../models/m.onnx"
[build]
precision = "int8"
output = "out/m.int8.t4.engine"
workspace = "2G"
[[profiles]]
min = "images:1x3x320x320"
opt = "images:1x3x640x640"
max = "images:1x3x1280x1280"
[calibration]
data = "calib"
algo = "entropy"
[target]
gpu = "t4"
compute_capability = "7.5"
tensorrt = "10.3"
"#;

    #[test]
    fn parses_and_resolves_paths_against_the_recipe_dir() {
        let r = Recipe::parse(GOOD, Path::new("/repo/engines")).unwrap();
        assert_eq!(
            r.source.onnx,
            PathBuf::from("/repo/engines/../models/m.onnx")
        );
        assert_eq!(
            r.build.output.as_deref(),
            Some(Path::new("/repo/engines/out/m.int8.t4.engine"))
        );
        assert_eq!(
            r.calibration.as_ref().unwrap().data.as_deref(),
            Some(Path::new("/repo/engines/calib"))
        );
        assert_eq!(
            r.calibration.as_ref().unwrap().algo,
            Some(CalibAlgo::Entropy)
        );
        assert_eq!(r.tensorrt(), Version::new(10, 3, 0));
        assert!(r.pipeline.reparam && r.pipeline.verify);
        assert_eq!(r.profiles.len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                GOOD.replace("precision = \"int8\"", "precision = \"int4\""),
                "int4",
            ),
            (
                GOOD.replace("tensorrt = \"10.3\"", "tensorrt = \"ten\""),
                "[target] tensorrt",
            ),
            (
                GOOD.replace(
                    "compute_capability = \"7.5\"",
                    "compute_capability = \"75\"",
                ),
                "compute_capability",
            ),
            (
                GOOD.replace("workspace = \"2G\"", "workspace = \"lots\""),
                "[build] workspace",
            ),
            (
                GOOD.replace("gpu = \"t4\"", "gpu = \"t4/x\""),
                "file-name token",
            ),
            (
                GOOD.replace("[calibration]\ndata = \"calib\"", "[calibration]"),
                "needs [calibration]",
            ),
            (GOOD.replace("description", "descripton"), "descripton"),
            (GOOD.replace("[[profiles]]", "[build2]"), "build2"),
        ];
        for (text, needle) in cases {
            let e = format!("{:#}", Recipe::parse(&text, Path::new(".")).unwrap_err());
            assert!(e.contains(needle), "{needle}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
