//! The crate's error type.
//!
//! Every variant carries what a user needs to act on it: the file, tensor or library involved, the expected and the
//! actual value, and, for engine/sidecar mismatches, what to rebuild the engine with.
//!
//! Errors that happen inside `Drop` (a failed `cudaFree`, a stream that could not be synchronized) cannot be returned.
//! They are recorded in the [`Device`](crate::cuda::Device)'s error sink and reported by the next fallible call on any
//! object of that device as [`Error::DeferredDrop`] (the cudarc `record_err`/`check_err` pattern).

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::dtype::DataType;
use crate::sidecar::{ComputeCapability, HardwareCompatibility};
use crate::Version;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the safe TensorRT runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A failure reported by the raw layer (library loading, a CUDA call, a TensorRT call, a missing shim).
    #[error(transparent)]
    Sys(#[from] trt_sys::Error),

    /// A tensor's shape does not match what the engine, the profile or the session allows.
    #[error(
        "tensor `{tensor}`: expected shape {expected}, got {actual}{}",
        hint_suffix(hint)
    )]
    ShapeMismatch {
        /// Name of the IO tensor.
        tensor: String,
        /// Expected shape (`-1` for a dimension that may vary).
        expected: Shape,
        /// Shape that was supplied or computed.
        actual: Shape,
        /// What to do about it (may be empty).
        hint: String,
    },

    /// A tensor's element type does not match the engine's.
    #[error(
        "tensor `{tensor}`: the engine uses {expected}, the caller supplied/asked for {actual}"
    )]
    DtypeMismatch {
        /// Name of the IO tensor.
        tensor: String,
        /// Data type in the engine.
        expected: DataType,
        /// Data type the caller used.
        actual: DataType,
    },

    /// The engine has no IO tensor of that name.
    #[error("the engine has no {kind} tensor named `{name}`; it has: {}", available.join(", "))]
    UnknownTensor {
        /// The name asked for.
        name: String,
        /// `"input"`, `"output"` or `"IO"`.
        kind: &'static str,
        /// Names that do exist.
        available: Vec<String>,
    },

    /// An input tensor was not supplied to an inference call.
    #[error("input tensor `{tensor}` was not supplied (inputs: {})", expected.join(", "))]
    MissingInput {
        /// The missing input.
        tensor: String,
        /// All inputs the engine expects.
        expected: Vec<String>,
    },

    /// A shape still contains dynamic (`-1`) dimensions where concrete ones are needed.
    #[error("tensor `{tensor}` has unspecified dimensions {shape}; set the input shape (or give a session shape) first")]
    UnspecifiedDims {
        /// Name of the tensor.
        tensor: String,
        /// Shape with the `-1` dimensions.
        shape: Shape,
    },

    /// A data type the safe runtime cannot host (e.g. FP8, INT4) or a host type that does not fit.
    #[error(
        "tensor `{tensor}`: data type {dtype} is not supported by the safe runtime ({reason})"
    )]
    UnsupportedDtype {
        /// Name of the tensor.
        tensor: String,
        /// The data type.
        dtype: DataType,
        /// Why.
        reason: String,
    },

    /// An argument is invalid; the message says which and why.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A buffer is too small / lengths differ in a copy.
    #[error("length mismatch in {operation}: destination holds {destination} elements, source has {source_len}")]
    LengthMismatch {
        /// The operation (`"copy_from_slice"`, …).
        operation: &'static str,
        /// Elements in the destination.
        destination: usize,
        /// Elements in the source.
        source_len: usize,
    },

    /// Memory read back from the GPU is not a valid value of the host type (e.g. a `bool` byte other than 0 or 1).
    #[error("buffer holds invalid {dtype} values (first bad element at index {index}); it was probably never written")]
    InvalidValue {
        /// Host element type.
        dtype: DataType,
        /// First offending element.
        index: usize,
    },

    /// An I/O error on a named file.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", "renaming to" …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The engine has no sidecar next to it.
    #[error(
        "engine {} has no sidecar (expected {}); rebuild it with `trt-build` (which writes the sidecar), or, for an \
         engine made by another tool (trtexec, Ultralytics …) that you trust, load it without provenance checks \
         (`--no-sidecar` in the trt tools, `Runtime::load_engine_without_sidecar` in code)",
        engine.display(), sidecar.display()
    )]
    SidecarMissing {
        /// The engine file.
        engine: PathBuf,
        /// Where the sidecar was looked for.
        sidecar: PathBuf,
    },

    /// An engine file without a sidecar (see [`crate::foreign`]) that cannot be an engine.
    #[error("engine {}: {reason}", engine.display())]
    ForeignEngine {
        /// The engine file.
        engine: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The sidecar is not valid JSON of the expected shape, or its own checksum does not match (bit rot, hand edits).
    #[error("sidecar {} is corrupt: {reason}; rebuild the engine with `trt-build` to regenerate it", sidecar.display())]
    SidecarCorrupt {
        /// The sidecar file.
        sidecar: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The sidecar was written in a format version this crate does not read.
    #[error(
        "sidecar {} has format version {found}, this build of `trt` reads version {supported}; \
         rebuild the engine with this release's `trt-build` (or upgrade the service)",
        sidecar.display()
    )]
    SidecarFormat {
        /// The sidecar file.
        sidecar: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Version supported by this crate.
        supported: u32,
    },

    /// The engine file's length differs from the length recorded in the sidecar (truncated or partially written file).
    #[error(
        "engine {} is {actual} bytes but its sidecar records {expected} bytes (truncated or replaced file); \
         rebuild with `trt-build` or restore the original file",
        engine.display()
    )]
    EngineLength {
        /// The engine file.
        engine: PathBuf,
        /// Length recorded in the sidecar.
        expected: u64,
        /// Length found.
        actual: u64,
    },

    /// The engine's SHA-256 differs from the sidecar's (corruption, or an engine/sidecar pair from different builds).
    #[error(
        "engine {} has SHA-256 {actual} but its sidecar records {expected} (corrupt file or mismatched pair); \
         rebuild with `trt-build` or restore the original file",
        engine.display()
    )]
    EngineChecksum {
        /// The engine file.
        engine: PathBuf,
        /// Digest recorded in the sidecar.
        expected: String,
        /// Digest of the bytes found.
        actual: String,
    },

    /// The engine was built with a TensorRT release the loaded library cannot run.
    #[error(
        "engine {} was built with TensorRT {built}{}, but TensorRT {loaded} is loaded; \
         rebuild with TensorRT {loaded} (or load libnvinfer {built})",
        engine.display(), if *version_compatible { " (version-compatible)" } else { "" }
    )]
    TensorRtVersion {
        /// The engine file.
        engine: PathBuf,
        /// Version the engine was built with.
        built: Version,
        /// Version loaded in this process.
        loaded: Version,
        /// Whether the engine was built version-compatible (then only the major version must match and the loaded
        /// release must not be older).
        version_compatible: bool,
    },

    /// The engine was built for a GPU of another compute capability.
    #[error(
        "engine {} was built on {built_gpu} (compute capability {built}, hardware compatibility {hardware_compatibility}) \
         but this device is {device_gpu} (compute capability {device}); rebuild on a compute capability {device} GPU \
         (or build with hardware compatibility `ampere-plus` for Ampere and newer)",
        engine.display()
    )]
    ComputeCapability {
        /// The engine file.
        engine: PathBuf,
        /// Compute capability the engine was built for.
        built: ComputeCapability,
        /// GPU name the engine was built on.
        built_gpu: String,
        /// Compute capability of the device here.
        device: ComputeCapability,
        /// GPU name here.
        device_gpu: String,
        /// Hardware compatibility level of the engine.
        hardware_compatibility: HardwareCompatibility,
    },

    /// A TensorRT for RTX engine was compiled for other compute capabilities than this device's.
    #[error(
        "engine {} was built with TensorRT for RTX for compute capabilities {} but this device is {device_gpu} \
         (compute capability {device}); rebuild with `trt-build --compute-capability {device}` (or add {device} to \
         the list)",
        engine.display(), targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    ComputeCapabilityTargets {
        /// The engine file.
        engine: PathBuf,
        /// Compute capabilities the engine was compiled for.
        targets: Vec<ComputeCapability>,
        /// Compute capability of the device here.
        device: ComputeCapability,
        /// GPU name here.
        device_gpu: String,
    },

    /// A buffer's `Drop` could not wait for the GPU's last use of it, so its memory was leaked rather than freed (the
    /// GPU might still read or write it). Reported by the next call on the device, like every deferred error.
    #[error(
        "a {what} of {bytes} bytes was leaked, not freed: waiting for the GPU's last use of it failed ({reason})"
    )]
    LeakedOnDrop {
        /// `device buffer` or `pinned host buffer`.
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// Why the wait failed.
        reason: String,
    },

    /// TensorRT for RTX judged the engine invalid on this system from its header (`IRuntime::getEngineValidity`).
    #[error("engine {} cannot run here: {}", engine.display(), reasons.join("; "))]
    EngineInvalid {
        /// The engine file (or a description of the bytes).
        engine: PathBuf,
        /// The `EngineInvalidityDiagnostics` bits.
        diagnostics: u64,
        /// Each diagnostic bit in words, with what to do about it.
        reasons: Vec<String>,
    },

    /// The engine was built with custom plugin libraries that are not loaded in this process.
    #[error(
        "engine {} was built with the plugin libraries {} which are not loaded; load them before the engine \
         (`--plugins PATH` on the command line, `Library::load_plugin_library` in code)",
        engine.display(), libraries.join(", ")
    )]
    PluginLibrariesNotLoaded {
        /// The engine file.
        engine: PathBuf,
        /// File names of the libraries that are missing.
        libraries: Vec<String>,
    },

    /// The engine needs TensorRT plugins but the plugin library was not initialized.
    #[error(
        "engine {} needs TensorRT plugins ({}) but the plugin library is not initialized; call \
         `Library::init_plugins()` before loading (or rebuild without plugin layers)",
        engine.display(), plugins.join(", ")
    )]
    PluginsNotInitialized {
        /// The engine file.
        engine: PathBuf,
        /// Plugins the engine needs.
        plugins: Vec<String>,
    },

    /// The engine needs a CUDA device but verification was asked to run without one.
    #[error("no CUDA device to check engine {} against: {reason}", engine.display())]
    NoDeviceForEngine {
        /// The engine file.
        engine: PathBuf,
        /// Why no device is known.
        reason: String,
    },

    /// Errors that happened in `Drop` of objects of this device, reported by the next call.
    #[error("{} error(s) happened while releasing CUDA resources earlier: {}", errors.len(), join_errors(errors))]
    DeferredDrop {
        /// The recorded errors, oldest first.
        errors: Vec<Error>,
    },

    /// A panic inside a callback called from C++ (logger, calibrator); it was caught at the FFI boundary.
    #[error("a callback panicked inside TensorRT ({callback}): {message}")]
    CallbackPanic {
        /// The callback.
        callback: &'static str,
        /// The panic payload, when it is a string.
        message: String,
    },
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("; {hint}")
    }
}

fn join_errors(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// `true` when the error says "there is no usable CUDA device/driver here" — services use this to fall back or
    /// exit with a clear message.
    pub fn is_no_device(&self) -> bool {
        matches!(self, Error::Sys(trt_sys::Error::NoCudaDevice { .. }))
    }

    /// `true` when the error means "TensorRT, the CUDA runtime, the driver or a usable GPU is missing here" (as
    /// opposed to a problem with an engine file or a failed run): tools exit with their "unavailable" code, services
    /// fall back.
    pub fn is_unavailable(&self) -> bool {
        use trt_sys::Error as Sys;
        self.is_no_device()
            || matches!(self, Error::NoDeviceForEngine { .. })
            || matches!(
                self,
                Error::Sys(
                    Sys::TensorRtNotCompiled
                        | Sys::LibraryNotFound { .. }
                        | Sys::LibraryOpen { .. }
                        | Sys::SymbolMissing { .. }
                        | Sys::VersionMismatch { .. }
                        | Sys::PluginVersionMismatch { .. }
                        | Sys::InvalidVersion { .. }
                )
            )
    }
}

/// A tensor shape as printed in errors (`[1, 3, -1, -1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<i64>);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl From<&[i64]> for Shape {
    fn from(v: &[i64]) -> Self {
        Shape(v.to_vec())
    }
}

impl From<Vec<i64>> for Shape {
    fn from(v: Vec<i64>) -> Self {
        Shape(v)
    }
}

/// Collects errors raised in `Drop` so the next fallible call can report them.
#[derive(Debug, Default)]
pub(crate) struct ErrorSink {
    errors: Mutex<Vec<Error>>,
}

impl ErrorSink {
    /// Records an error from a `Drop` implementation (also logged at `error` level right away).
    pub(crate) fn record(&self, error: Error) {
        tracing::error!(target: "trt", "error while releasing a CUDA resource (reported on the next call): {error}");
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        errors.push(error);
    }

    /// Returns the recorded errors (and clears them) as one [`Error::DeferredDrop`].
    pub(crate) fn check(&self) -> Result<()> {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::DeferredDrop {
                errors: std::mem::take(&mut *errors),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_mismatch_names_tensor_and_shapes() {
        let e = Error::ShapeMismatch {
            tensor: "images".into(),
            expected: Shape(vec![1, 3, -1, -1]),
            actual: Shape(vec![1, 4, 640, 640]),
            hint: "the engine takes 3 channels".into(),
        };
        let s = e.to_string();
        assert!(s.contains("`images`"), "{s}");
        assert!(s.contains("[1, 3, -1, -1]"), "{s}");
        assert!(s.contains("[1, 4, 640, 640]"), "{s}");
        assert!(s.ends_with("the engine takes 3 channels"), "{s}");
    }

    #[test]
    fn sink_reports_once_then_clears() {
        let sink = ErrorSink::default();
        assert!(sink.check().is_ok());
        sink.record(Error::InvalidArgument("first".into()));
        sink.record(Error::InvalidArgument("second".into()));
        let err = sink.check().unwrap_err();
        match &err {
            Error::DeferredDrop { errors } => assert_eq!(errors.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("2 error(s)"), "{msg}");
        assert!(msg.contains("first") && msg.contains("second"), "{msg}");
        assert!(sink.check().is_ok(), "errors are reported once");
    }
}
