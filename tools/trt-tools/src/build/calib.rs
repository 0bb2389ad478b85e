//! INT8 calibration as `trt-build` sees it.
//!
//! `trt-build` validates the calibration options (directory exists, algorithm, batch count, cache path) in
//! [`super::config`], plans whether calibration runs in [`super::release`], and then calls [`calibrate`], which runs
//! the Rust-native calibration ([`crate::calib_data::calibrate_dir`] over [`yolo_onnx::quant`]) on the FP32
//! (re-parameterized) model:
//!
//! * TensorRT 11.x or `--explicit`: the Q/DQ model replaces the model in the pipeline.
//! * TensorRT ≤ 10.x: the calibration cache is written to `--calib-cache` (atomically) and kept in memory
//!   ([`latest_cache`]) for the cache-serving calibrator in [`super::engine`], which stamps the header with the
//!   loaded TensorRT version ([`restamp_cache`]).

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::Serialize;
use yolo_onnx::quant::{self, Algorithm, CalibrationCache, QdqOptions, QuantizeOptions};

use super::options::CalibAlgo;
use crate::calib_data::{self, DataOptions};

/// Samples per `--calib-batches` batch.
pub const BATCH_SIZE: usize = 8;

/// Header version written when no TensorRT release is known (8.5.3, JetPack 5.1); [`restamp_cache`] replaces it
/// with the loaded release's when the cache is handed to TensorRT.
pub const DEFAULT_CACHE_VERSION: u32 = 8503;

/// What calibration is asked to do.
#[derive(Debug, Clone, Serialize)]
pub struct CalibRequest {
    /// Directory of images or `.npy` tensors.
    pub data: PathBuf,
    /// Where to write the TensorRT calibration cache (≤ 10.x builder path), if anywhere.
    pub cache_out: Option<PathBuf>,
    /// Algorithm.
    pub algo: CalibAlgo,
    /// Batches to use.
    pub batches: Option<u32>,
    /// Produce a Q/DQ model (ONNX path) rather than only a cache.
    pub qdq: bool,
    /// Node-name patterns kept in floating point.
    pub exclude: Vec<String>,
    /// The TensorRT release the build targets (loaded, `--trt-release` or the recipe's): its version goes into the
    /// cache header, so a `--calib-cache` file is accepted as-is by that release. `None`: [`DEFAULT_CACHE_VERSION`].
    pub tensorrt: Option<trt::Version>,
}

/// The cache header version for `release` (`None`: [`DEFAULT_CACHE_VERSION`]).
pub fn cache_version(release: Option<trt::Version>) -> u32 {
    release.map_or(DEFAULT_CACHE_VERSION, |v| {
        quant::cache::version_code(v.major, v.minor, v.patch)
    })
}

/// The result of calibration.
#[derive(Debug, Clone)]
pub struct CalibOutput {
    /// The Q/DQ model (when `qdq` was asked for).
    pub qdq_model: Option<yolo_onnx::Model>,
    /// The TensorRT calibration cache text (`TRT-<version>-<Algorithm>` header + `tensor: hex` lines).
    pub cache: Option<Vec<u8>>,
    /// Report lines (ranges, saturation, drift).
    pub report: Vec<String>,
}

static LATEST_CACHE: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// The cache of the last [`calibrate`] call in this process (what the ≤ 10.x calibrator serves when no
/// `--calib-cache` file was named).
pub fn latest_cache() -> Option<Vec<u8>> {
    LATEST_CACHE.lock().ok().and_then(|c| c.clone())
}

/// The algorithm of `--calib-algo`.
pub fn algorithm(algo: CalibAlgo) -> Algorithm {
    match algo {
        CalibAlgo::Minmax => Algorithm::MinMax,
        CalibAlgo::Entropy => Algorithm::Entropy,
        CalibAlgo::Percentile => Algorithm::Percentile(quant::algo::DEFAULT_PERCENTILE),
    }
}

/// Rewrites a cache's header version for the TensorRT release that will read it (TensorRT skips a cache written
/// by another version; our scales do not depend on it).
pub fn restamp_cache(cache: &[u8], major: u32, minor: u32, patch: u32) -> Result<Vec<u8>> {
    let mut c =
        CalibrationCache::parse(cache, "calibration cache").map_err(|e| anyhow::anyhow!("{e}"))?;
    c.version = quant::cache::version_code(major, minor, patch);
    Ok(c.to_text().into_bytes())
}

/// Runs INT8 calibration on the FP32 (re-parameterized) model.
pub fn calibrate(model: &yolo_onnx::Model, request: &CalibRequest) -> Result<CalibOutput> {
    let data = DataOptions {
        count: request.batches.map(|b| b as usize * BATCH_SIZE),
        batch_size: BATCH_SIZE,
        ..DataOptions::default()
    };
    let options = QuantizeOptions {
        algorithm: algorithm(request.algo),
        qdq: QdqOptions {
            exclude: request.exclude.clone(),
            keep_head_float: true,
        },
        ..QuantizeOptions::default()
    };
    let (q, summary) = calib_data::calibrate_dir(
        model,
        &request.data,
        &data,
        &options,
        cache_version(request.tensorrt),
    )
    .context("--calib")?;
    let cache = q.cache.to_text().into_bytes();
    if let Some(path) = &request.cache_out {
        crate::common::fs::atomic_write(path, &cache)
            .with_context(|| format!("--calib-cache {}: cannot write", path.display()))?;
    }
    if let Ok(mut c) = LATEST_CACHE.lock() {
        *c = Some(cache.clone());
    }
    let mut report = vec![format!(
        "{} samples from {} ({} files, {} skipped, {:.1} samples/s on {})",
        summary.calibration_samples,
        summary.dir.display(),
        summary.files_found,
        summary.skipped.len(),
        summary.samples_per_second,
        summary.executor
    )];
    report.extend(q.report.summary_lines());
    Ok(CalibOutput {
        qdq_model: request.qdq.then_some(q.model),
        cache: Some(cache),
        report,
    })
}
