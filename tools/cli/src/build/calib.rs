//! INT8 calibration as `trt-build` sees it: the single call site the calibration module (issue 6) plugs into.
//!
//! `trt-build` validates the calibration options (directory exists, algorithm, batch count, cache path) in
//! [`super::config`], plans whether calibration runs in [`super::release`], and then calls [`calibrate`] — the only
//! place that knows how calibration is done. Until the Rust-native calibration lands, [`calibrate`] returns
//! [`NOT_AVAILABLE`] (exit code 1); replacing its body is all the CLI needs.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use super::options::CalibAlgo;

/// The message returned while calibration is not built in.
pub const NOT_AVAILABLE: &str = "INT8 calibration is not available in this build yet";

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

/// Runs INT8 calibration on the FP32 (re-parameterized) model.
///
/// This is the one place the calibration module replaces. Today it fails with [`NOT_AVAILABLE`].
pub fn calibrate(model: &yolo_onnx::Model, request: &CalibRequest) -> Result<CalibOutput> {
    let _ = (model, request);
    bail!(
        "{NOT_AVAILABLE}: --int8 --calib {} needs the Rust calibration module; meanwhile build with --fp16, \
         or pass a TensorRT calibration cache with --calib-cache FILE (TensorRT ≤ 10.x), or a model that already \
         holds QuantizeLinear/DequantizeLinear nodes",
        request.data.display()
    )
}
