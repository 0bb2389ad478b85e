//! Building engines: thin re-exports of the `trt-sys` shim's builder side, which is already a safe Rust API
//! (every call returns `Result`, callbacks never unwind into C++). Errors convert into [`crate::Error`] with `?`.
//!
//! Create a [`Builder`] with [`Library::builder`](crate::Library::builder) (full libnvinfer only) and an
//! [`OnnxParser`] with [`Library::onnx_parser`](crate::Library::onnx_parser). Builder-side objects are neither `Send`
//! nor `Sync`: use them on one thread. After building, write the engine with [`crate::sidecar::write_engine`].

pub use trt_sys::shim::{
    builder_flag_available, capabilities, tactic_source_available, Builder, BuilderConfig,
    BuilderFlag, CalibrationAlgorithm, Capabilities, DeviceType, HardwareCompatibility, HostMemory,
    LayerDesc, MemoryPool, Network, NetworkTensorDesc, OptimizationProfile, ParserError,
    ParserErrorCode, ProfileSelector, ProfilingVerbosity, ProgressMonitor, TacticSource,
    TimingCache,
};

/// The ONNX parser (`nvonnxparser::IParser`); owns the network it fills.
pub type OnnxParser = trt_sys::shim::Parser;

/// INT8 calibration data source (TensorRT ≤ 10.x; TensorRT 11 removed calibrators — use the ONNX Q/DQ pipeline).
/// Pass it to [`BuilderConfig::set_int8_calibrator`]. Called on the building thread; a panic inside is caught at
/// the C++ boundary and re-raised after the build call returns.
pub use trt_sys::shim::Int8Calibrator as Calibrator;

/// Converts the shim's hardware compatibility level to the sidecar's.
pub fn sidecar_hardware_compatibility(
    level: HardwareCompatibility,
) -> crate::sidecar::HardwareCompatibility {
    match level {
        HardwareCompatibility::AmperePlus => crate::sidecar::HardwareCompatibility::AmperePlus,
        HardwareCompatibility::SameComputeCapability => {
            crate::sidecar::HardwareCompatibility::SameComputeCapability
        }
        _ => crate::sidecar::HardwareCompatibility::None,
    }
}
