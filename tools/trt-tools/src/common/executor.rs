//! The CPU executor the ONNX checks and calibration run on: `YOLO_ONNX_EXECUTOR` (tract, onnxruntime, auto) and, for
//! onnxruntime, the library at `ORT_DYLIB_PATH` or on the loader path ([`yolo_onnx::exec::Backend`]).

use yolo_onnx::exec::{onnxruntime_status, Backend};

/// The executor `YOLO_ONNX_EXECUTOR` names (auto when unset). Asking for onnxruntime when its library cannot be
/// opened is an error here, before any work, rather than a check skipped later.
pub fn cpu_backend() -> anyhow::Result<Backend> {
    let backend = Backend::from_env()?;
    if backend == Backend::OnnxRuntime {
        if let Err(why) = onnxruntime_status() {
            anyhow::bail!("{}=onnxruntime: {why}", Backend::ENV);
        }
    }
    Ok(backend)
}
