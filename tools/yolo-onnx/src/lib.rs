//! ONNX graph layer and passes for re-parameterized YOLO models.
//!
//! * [`model`]: load/save ONNX files ([`Model`]), external data, opset checks.
//! * [`graph`]: the small graph API every pass uses ([`Graph`], tensor and attribute helpers).
//! * [`sparsity`]: 2:4 structured pruning of Conv/MatMul/Gemm weights (`trt-build --sparsity force`).
//! * [`passes`]: re-parameterization passes and the [`fuse`] pipeline with its [`FuseReport`],
//!   plus the [`lint`](passes::lint) used by `trt-build` and `trt-onnx inspect`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod graph;
pub mod model;
pub mod passes;
// CPU execution, FP16, verification and test-graph builders.
pub mod exec;
pub mod fp16;
#[cfg(feature = "onnxruntime")]
mod ort_exec;
pub mod sparsity;
pub mod testgen;
// INT8 calibration and Q/DQ (helper int8).
pub mod quant;
pub mod verify;

pub use error::{Error, Result};
pub use graph::Graph;
pub use model::{ExternalData, Model, SaveOptions};
pub use passes::{analyze, fuse, FuseOptions, FuseReport};
