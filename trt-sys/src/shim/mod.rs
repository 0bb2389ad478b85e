//! TensorRT through the C++ shim (`trt-sys/cpp/`, cxx bridges in `ffi.rs`).
//!
//! Plain Rust handles over the shim's objects, every fallible call returning [`Result`]. The same API exists in
//! every build: without TensorRT headers at build time (no `cfg(trt_shim)`) the handle types are uninhabited and
//! every constructor returns [`Error::TensorRtNotCompiled`], which names the variables to set.
//!
//! Before any TensorRT factory ([`Builder::new`], [`Runtime::new`], [`Parser::new`], [`init_plugins`]) the shim
//! loads the library ([`crate::loader`]), checks that its major equals the compiled headers' major
//! ([`Error::VersionMismatch`]) and that a CUDA driver and device are usable ([`crate::cuda::check_device_usable`]);
//! any error TensorRT logs while creating an object fails the creation even if a pointer came back.
//!
//! Lifetimes: every handle keeps what it was created from alive (an engine its runtime, a context its engine, all
//! of them their [`Logger`]), so drop order never matters. Thread safety follows TensorRT's rules: [`Runtime`] and
//! [`Engine`] are `Send + Sync`, [`ExecutionContext`] is `Send` only, builder-side objects are neither.

#![allow(clippy::missing_errors_doc)]

use std::ffi::c_void;
use std::fmt;
use std::path::Path;

use crate::cuda::{cudaEvent_t, cudaStream_t};
use crate::error::{Error, Result};
pub use crate::loader::TrtVersion;

#[cfg(trt_shim)]
mod callbacks;
#[cfg(trt_shim)]
mod ffi;
#[cfg(test)]
mod tests;

#[cfg(trt_shim)]
use std::sync::Arc;

#[cfg(trt_shim)]
use callbacks::{CalibratorSink, LogSink, PanicSlot, ProgressSink};
#[cfg(trt_shim)]
use ffi::ffi as sys;

/// Uninhabited: stands in for the native handle when the shim is not compiled.
#[cfg(not(trt_shim))]
#[derive(Clone, Copy)]
enum Never {}

/// The TensorRT version of the headers the shim was compiled against; `None` without a shim.
pub fn compiled_version() -> Option<TrtVersion> {
    crate::loader::compiled_version()
}

/// The full header version including the build number ("10.3.0.26"), `None` without a shim.
pub fn compiled_version_string() -> Option<&'static str> {
    option_env!("TRT_SYS_TENSORRT_VERSION")
}

#[cfg_attr(not(trt_shim), allow(dead_code))]
fn compiled_version_text() -> String {
    compiled_version().map_or_else(|| "(not compiled)".to_owned(), |v| v.to_string())
}

// ------------------------------------------------------------------------------------------------ enums

macro_rules! shim_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
        }

        #[cfg(trt_shim)]
        impl $name {
            #[allow(dead_code)]
            pub(crate) fn to_ffi(self) -> sys::$name {
                match self { $($name::$var => sys::$name::$var),+ }
            }
            #[allow(dead_code)]
            pub(crate) fn from_ffi(v: sys::$name) -> Option<Self> {
                $(if v == sys::$name::$var { return Some($name::$var); })+
                None
            }
        }
    };
}

shim_enum! {
    /// Log severity, most severe first (TensorRT's `ILogger::Severity`).
    pub enum Severity {
        /// An internal error; TensorRT may be unusable afterwards.
        InternalError,
        /// An application error.
        Error,
        /// A warning.
        Warning,
        /// Information.
        Info,
        /// Verbose messages (debugging).
        Verbose,
    }
}

shim_enum! {
    /// Tensor element types (`nvinfer1::DataType`). Which exist depends on the release (FP8 >= 8.6, BF16/INT64/INT4
    /// >= 10, FP4/E8M0 in late 10.x and 11.x).
    pub enum DataType {
        /// 32-bit float.
        Float,
        /// 16-bit float.
        Half,
        /// Signed 8-bit integer (quantized).
        Int8,
        /// 32-bit integer.
        Int32,
        /// Boolean.
        Bool,
        /// Unsigned 8-bit integer.
        Uint8,
        /// 8-bit float (E4M3).
        Fp8,
        /// bfloat16.
        Bf16,
        /// 64-bit integer.
        Int64,
        /// Signed 4-bit integer.
        Int4,
        /// 4-bit float (E2M1).
        Fp4,
        /// 8-bit exponent-only scale type.
        E8m0,
        /// A value the shim does not know (newer library).
        Unknown,
    }
}

impl DataType {
    /// Size of one element in bits (4 for the 4-bit types), `None` for [`DataType::Unknown`].
    pub fn bits(self) -> Option<u32> {
        Some(match self {
            DataType::Float | DataType::Int32 => 32,
            DataType::Half | DataType::Bf16 => 16,
            DataType::Int8 | DataType::Bool | DataType::Uint8 | DataType::Fp8 | DataType::E8m0 => 8,
            DataType::Int64 => 64,
            DataType::Int4 | DataType::Fp4 => 4,
            DataType::Unknown => return None,
        })
    }
}

shim_enum! {
    /// Whether an engine tensor is an input or an output.
    pub enum TensorIoMode {
        /// Neither (not an IO tensor).
        None,
        /// Network input.
        Input,
        /// Network output.
        Output,
    }
}

shim_enum! {
    /// Memory layout of an engine IO tensor (`nvinfer1::TensorFormat`).
    pub enum TensorFormat {
        /// Row-major linear.
        Linear,
        /// Two-wide channel vectorized.
        Chw2,
        /// Eight-channel HWC.
        Hwc8,
        /// Four-wide channel vectorized.
        Chw4,
        /// Sixteen-wide channel vectorized.
        Chw16,
        /// Thirty-two-wide channel vectorized.
        Chw32,
        /// Eight-channel DHWC.
        Dhwc8,
        /// Thirty-two-wide channel vectorized, 3D.
        Cdhw32,
        /// Non-vectorized channel-last.
        Hwc,
        /// DLA planar.
        DlaLinear,
        /// DLA image format.
        DlaHwc4,
        /// Sixteen-channel HWC.
        Hwc16,
        /// Non-vectorized channel-last, 3D.
        Dhwc,
        /// A value the shim does not know.
        Unknown,
    }
}

shim_enum! {
    /// Builder memory pools (`nvinfer1::MemoryPoolType`).
    pub enum MemoryPool {
        /// Scratch memory for layer implementations.
        Workspace,
        /// DLA managed SRAM.
        DlaManagedSram,
        /// DLA local DRAM.
        DlaLocalDram,
        /// DLA global DRAM.
        DlaGlobalDram,
        /// Device memory for tactic selection (>= 8.6).
        TacticDram,
        /// Shared memory for tactics (>= 10).
        TacticSharedMemory,
    }
}

shim_enum! {
    /// How much layer information an engine keeps (`nvinfer1::ProfilingVerbosity`).
    pub enum ProfilingVerbosity {
        /// Layer names only (the default).
        LayerNamesOnly,
        /// Nothing.
        None,
        /// Everything (needed for a detailed layer table).
        Detailed,
    }
}

shim_enum! {
    /// Where layers run by default.
    pub enum DeviceType {
        /// The GPU.
        Gpu,
        /// A DLA core (Jetson).
        Dla,
    }
}

shim_enum! {
    /// Hardware compatibility of a built engine (>= 8.6).
    pub enum HardwareCompatibility {
        /// Only the GPU it was built on (architecture-wise).
        None,
        /// Any Ampere or newer GPU.
        AmperePlus,
        /// Any GPU with the same compute capability (late 10.x and later).
        SameComputeCapability,
    }
}

shim_enum! {
    /// Which of an optimization profile's shapes.
    pub enum ProfileSelector {
        /// Smallest allowed.
        Min,
        /// The shape tactics are tuned for.
        Opt,
        /// Largest allowed.
        Max,
    }
}

shim_enum! {
    /// Builder flags (`nvinfer1::BuilderFlag`). Not every release has every flag: TensorRT 11 removed the precision
    /// flags (FP16/INT8/BF16/FP8/INT4) in favour of strong typing. Setting a flag the compiled release lacks is an
    /// [`Error::Unsupported`]; see [`builder_flag_available`].
    pub enum BuilderFlag {
        /// Allow FP16 kernels (<= 10.x).
        Fp16,
        /// Allow INT8 kernels (<= 10.x).
        Int8,
        /// Allow BF16 kernels (10.x).
        Bf16,
        /// Allow FP8 kernels (8.6 .. 10.x).
        Fp8,
        /// Allow INT4 weight-only kernels (10.x).
        Int4,
        /// Allow TF32 for FP32 math (on by default).
        Tf32,
        /// Fall back to the GPU for layers a DLA cannot run.
        GpuFallback,
        /// Make the engine refittable.
        Refit,
        /// Debug mode (synchronise after each layer).
        Debug,
        /// Do not use the timing cache.
        DisableTimingCache,
        /// Allow structured-sparsity tactics.
        SparseWeights,
        /// Layer precision requests are hard constraints (<= 10.x).
        ObeyPrecisionConstraints,
        /// Layer precision requests are preferences (<= 10.x).
        PreferPrecisionConstraints,
        /// Require IO tensors in the requested formats without reformatting.
        DirectIo,
        /// Build a version-compatible engine (>= 8.6).
        VersionCompatible,
        /// Exclude the lean runtime from a version-compatible plan (>= 8.6).
        ExcludeLeanRuntime,
        /// Fail the build on timing cache misses (>= 10).
        ErrorOnTimingCacheMiss,
        /// Strip refittable weights from the plan (>= 10).
        StripPlan,
        /// Enable weight streaming (>= 10).
        WeightStreaming,
    }
}

shim_enum! {
    /// INT8 calibration algorithm for [`BuilderConfig::set_int8_calibrator`].
    pub enum CalibrationAlgorithm {
        /// Entropy calibration, version 2 (recommended for CNNs).
        Entropy2,
        /// Min/max calibration.
        MinMax,
    }
}

shim_enum! {
    /// ONNX parser error codes (`nvonnxparser::ErrorCode`).
    pub enum ParserErrorCode {
        /// No error.
        Success,
        /// Parser internal error.
        InternalError,
        /// Out of memory.
        MemAllocFailed,
        /// The bytes are not an ONNX model.
        ModelDeserializeFailed,
        /// An invalid value.
        InvalidValue,
        /// An invalid graph.
        InvalidGraph,
        /// An invalid node.
        InvalidNode,
        /// The graph is not supported.
        UnsupportedGraph,
        /// The node is not supported.
        UnsupportedNode,
        /// An attribute is not supported (>= 10).
        UnsupportedNodeAttr,
        /// An input is not supported (>= 10).
        UnsupportedNodeInput,
        /// A data type is not supported (>= 10).
        UnsupportedNodeDatatype,
        /// A dynamic shape is not supported (>= 10).
        UnsupportedNodeDynamic,
        /// A shape is not supported (>= 10).
        UnsupportedNodeShape,
        /// Refitting failed (>= 10).
        RefitFailed,
        /// A code the shim does not know.
        Unknown,
    }
}

// ------------------------------------------------------------------------------------------------ plain data

/// What the compiled TensorRT headers offer. Decided at compile time in C++ (`#if NV_TENSORRT_MAJOR ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// 8.x: networks are created with `kEXPLICIT_BATCH` (done automatically).
    pub explicit_batch_flag: bool,
    /// `kSTRONGLY_TYPED` can be requested (10.x).
    pub strongly_typed_flag: bool,
    /// Every network is strongly typed (11.x).
    pub strongly_typed_always: bool,
    /// `setBuilderOptimizationLevel` (>= 8.6).
    pub builder_optimization_level: bool,
    /// Version-compatible engines (>= 8.6).
    pub version_compatible: bool,
    /// Hardware compatibility levels (>= 8.6).
    pub hardware_compatibility: bool,
    /// `IProgressMonitor` (>= 10.0).
    pub progress_monitor: bool,
    /// INT8 calibrators (<= 10.x).
    pub int8_calibrator: bool,
    /// Per-layer precision / output type requests (<= 10.x).
    pub layer_precision: bool,
    /// DLA core selection.
    pub dla: bool,
    /// Parser errors carry node names and operators (>= 10.0).
    pub parser_node_names: bool,
    /// The headers are TensorRT for RTX's.
    pub rtx: bool,
    /// `IBuilderConfig::setComputeCapability` targets (TensorRT-RTX).
    pub compute_capability_targets: bool,
    /// `IRuntime::getEngineValidity` (TensorRT-RTX).
    pub engine_validity: bool,
    /// The JIT runtime cache (TensorRT-RTX).
    pub runtime_cache: bool,
}

/// `ComputeCapability::kCURRENT` for [`BuilderConfig::set_compute_capabilities`]: the GPU present (needs one).
pub const COMPUTE_CAPABILITY_CURRENT: i32 = 1;

/// What `IRuntime::getEngineValidity` (TensorRT-RTX) says about a serialized engine, judged from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineValidity {
    /// 0 valid, 1 valid but suboptimal, 2 invalid on this system.
    pub status: i32,
    /// `EngineInvalidityDiagnostics` bits (0 unless invalid).
    pub diagnostics: u64,
    /// Bytes of header TensorRT needs (`getEngineHeaderSize`).
    pub header_size: i64,
    /// False when the blob was shorter than the header: TensorRT was not asked, and `diagnostics` says malformed.
    pub header_checked: bool,
    /// Errors TensorRT logged during the check (`None` when none). Without a usable GPU TensorRT-RTX logs that it
    /// cannot read the GPU's properties and answers "invalid" with no diagnostic bit.
    pub logged: Option<String>,
}

/// An engine IO tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorDesc {
    /// Tensor name.
    pub name: String,
    /// Input or output.
    pub mode: TensorIoMode,
    /// Element type.
    pub data_type: DataType,
    /// Shape; -1 marks a dynamic dimension.
    pub shape: Vec<i64>,
    /// Memory layout.
    pub format: TensorFormat,
    /// TensorRT's human-readable description of the layout.
    pub format_desc: String,
}

/// A network input or output tensor (before building).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkTensorDesc {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub data_type: DataType,
    /// Shape; -1 marks a dynamic dimension.
    pub shape: Vec<i64>,
}

/// A network layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDesc {
    /// Index in the network.
    pub index: usize,
    /// Layer name (from the ONNX node name where the parser set one).
    pub name: String,
    /// Layer type, TensorRT's enumerator name without the `k` (e.g. "CONVOLUTION"); "UNKNOWN" when the shim's
    /// table does not list it.
    pub kind: String,
    /// Plugin type of a plugin layer (e.g. `EfficientNMS_TRT`); empty for every other layer.
    pub plugin: String,
    /// Compute precision (<= 10.x; on 11.x the type of the first output).
    pub precision: DataType,
    /// Whether a precision was requested for this layer.
    pub precision_is_set: bool,
    /// Output tensor names.
    pub output_names: Vec<String>,
    /// Output tensor types.
    pub output_types: Vec<DataType>,
}

/// One error recorded by the ONNX parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserError {
    /// Error code.
    pub code: ParserErrorCode,
    /// The parser's description.
    pub description: String,
    /// Parser source file that raised it.
    pub file: String,
    /// Line in that file.
    pub line: i32,
    /// Function in that file.
    pub function: String,
    /// Index of the ONNX node (-1 when not node-specific).
    pub node_index: i32,
    /// ONNX node name (empty before TensorRT 10 or when unnamed).
    pub node_name: String,
    /// ONNX operator type (empty before TensorRT 10).
    pub node_operator: String,
}

impl fmt::Display for ParserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node_index >= 0 {
            write!(f, "node {}", self.node_index)?;
            match (self.node_name.is_empty(), self.node_operator.is_empty()) {
                (false, false) => write!(f, " ({}, {})", self.node_name, self.node_operator)?,
                (false, true) => write!(f, " ({})", self.node_name)?,
                (true, false) => write!(f, " ({})", self.node_operator)?,
                (true, true) => {}
            }
        } else {
            f.write_str("model")?;
        }
        write!(f, ": {:?}: {}", self.code, self.description)?;
        if !self.file.is_empty() {
            write!(f, " [{}:{}", self.file, self.line)?;
            if !self.function.is_empty() {
                write!(f, " {}", self.function)?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// Build progress callbacks (TensorRT >= 10, `IProgressMonitor`). Called from the building thread.
pub trait ProgressMonitor: Send {
    /// A phase (possibly nested in `parent`) starts with `steps` steps.
    fn phase_start(&mut self, phase: &str, parent: Option<&str>, steps: i32);
    /// A step finished; return `false` to cancel the build.
    fn step_complete(&mut self, phase: &str, step: i32) -> bool;
    /// A phase ended.
    fn phase_finish(&mut self, phase: &str);
}

/// INT8 calibration data source (TensorRT <= 10.x, `IInt8Calibrator`). Called from the building thread.
///
/// # Safety
/// TensorRT reads (on the GPU) the raw addresses [`Int8Calibrator::next_batch`] hands it. An implementation returning
/// `true` must have written, for every `names[i]`, the address of device memory of the current device that holds at
/// least `batch_size() ×` (the network input's per-sample volume) `×` (its element size) bytes, and that memory must
/// stay allocated and unmodified by the host until the next `next_batch` call or the end of the build. A safe impl
/// could hand over a dropped buffer; hence `unsafe impl`.
pub unsafe trait Int8Calibrator: Send {
    /// Batch size of every batch.
    fn batch_size(&self) -> i32;
    /// Fills `bindings[i]` with the device address of the next batch for input `names[i]`; returns `false` when
    /// there is no more data. See the trait's safety contract for what the addresses must point at.
    fn next_batch(&mut self, names: &[String], bindings: &mut [usize]) -> bool;
    /// A calibration cache to reuse, or `None` to calibrate.
    fn read_cache(&mut self) -> Option<Vec<u8>>;
    /// Stores the calibration cache TensorRT produced.
    fn write_cache(&mut self, data: &[u8]);
}

// ------------------------------------------------------------------------------------------------ helpers

/// Turns a shim exception into an [`Error`]: "unsupported: ..." messages become [`Error::Unsupported`].
#[cfg(trt_shim)]
fn map_exception(call: &str, e: &cxx::Exception) -> Error {
    let msg = e.what();
    if let Some(what) = msg.strip_prefix("unsupported: ") {
        return Error::Unsupported {
            what: what.to_owned(),
            version: compiled_version_text(),
        };
    }
    Error::TensorRt {
        call: call.to_owned(),
        message: msg.to_owned(),
    }
}

/// What a TensorRT factory is for: building (builder, parser) or running (runtime, plugins).
#[cfg(trt_shim)]
#[derive(Clone, Copy, PartialEq, Eq)]
enum FactoryUse {
    Build,
    Run,
    /// A runtime used only to judge engines (`getEngineValidity`), never to deserialize them.
    Inspect,
}

/// Loads TensorRT and runs the checks every factory needs: the loaded library serves the compiled headers
/// ([`check_compiled`]) and CUDA is usable (a factory called without a usable driver or device can hand back an
/// unusable object). Exception: TensorRT-RTX builds ahead of time without a GPU, so its builder and parser need only
/// libcudart opened (TensorRT-RTX opens it by its soname, and finds the one already loaded).
#[cfg(trt_shim)]
fn prepare_factory(purpose: FactoryUse) -> Result<&'static crate::loader::TensorRtLibs> {
    let libs = crate::loader::tensorrt()?;
    check_compiled(compiled_version(), libs.version, libs.nvinfer.path())?;
    if purpose != FactoryUse::Run && libs.version.is_rtx() {
        crate::loader::cudart()?;
    } else {
        crate::cuda::check_device_usable()?;
    }
    Ok(libs)
}

/// Error unless the loaded library can serve the compiled headers: same product and major, minor not older
/// ([`TrtVersion::serves`]). An older minor would be called through vtable slots it does not have.
#[cfg_attr(not(trt_shim), allow(dead_code))]
fn check_compiled(compiled: Option<TrtVersion>, loaded: TrtVersion, path: &Path) -> Result<()> {
    let Some(compiled) = compiled else {
        return Err(Error::TensorRtNotCompiled);
    };
    if !loaded.serves(compiled) {
        return Err(Error::VersionMismatch {
            compiled: format!(
                "{} (compiled headers; the library must be {} {}.x with a minor of at least {})",
                compiled.label(),
                compiled.product,
                compiled.major,
                compiled.minor
            ),
            loaded: loaded.label(),
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg_attr(not(trt_shim), allow(dead_code))]
fn enum_from_ffi<T>(v: Option<T>, fallback: T) -> T {
    v.unwrap_or(fallback)
}

/// What the compiled headers offer; [`Error::TensorRtNotCompiled`] without a shim.
pub fn capabilities() -> Result<Capabilities> {
    #[cfg(not(trt_shim))]
    return Err(Error::TensorRtNotCompiled);
    #[cfg(trt_shim)]
    {
        let c = sys::capabilities();
        Ok(Capabilities {
            explicit_batch_flag: c.explicit_batch_flag,
            strongly_typed_flag: c.strongly_typed_flag,
            strongly_typed_always: c.strongly_typed_always,
            builder_optimization_level: c.builder_optimization_level,
            version_compatible: c.version_compatible,
            hardware_compatibility: c.hardware_compatibility,
            progress_monitor: c.progress_monitor,
            int8_calibrator: c.int8_calibrator,
            layer_precision: c.layer_precision,
            dla: c.dla,
            parser_node_names: c.parser_node_names,
            rtx: c.rtx,
            compute_capability_targets: c.compute_capability_targets,
            engine_validity: c.engine_validity,
            runtime_cache: c.runtime_cache,
        })
    }
}

/// The compute-capability targets of the compiled TensorRT-RTX release as SM numbers (75 is 7.5); empty for
/// TensorRT; [`Error::TensorRtNotCompiled`] without a shim.
pub fn compute_capability_targets() -> Result<Vec<i32>> {
    #[cfg(not(trt_shim))]
    return Err(Error::TensorRtNotCompiled);
    #[cfg(trt_shim)]
    sys::compute_capability_targets().map_err(|e| map_exception("compute_capability_targets", &e))
}

/// Whether the compiled release has `flag`; [`Error::TensorRtNotCompiled`] without a shim.
pub fn builder_flag_available(flag: BuilderFlag) -> Result<bool> {
    #[cfg(not(trt_shim))]
    {
        let _ = flag;
        Err(Error::TensorRtNotCompiled)
    }
    #[cfg(trt_shim)]
    Ok(sys::builder_flag_available(flag.to_ffi()))
}

// ------------------------------------------------------------------------------------------------ logger

/// The logger every TensorRT object reports through. Cloning shares it. Messages at or above the threshold go
/// to the callback (a panic there is caught and re-raised after the TensorRT call returns); errors are always kept
/// (the last 16) for error messages.
#[derive(Clone)]
pub struct Logger {
    #[cfg(trt_shim)]
    inner: Arc<LoggerInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

#[cfg(trt_shim)]
struct LoggerInner {
    ptr: cxx::UniquePtr<sys::ShimLogger>,
    panic: Arc<PanicSlot>,
}

// SAFETY: ShimLogger's mutable state (error ring, counter, threshold) is behind a mutex/atomic because TensorRT may
// log from any thread (ILogger must be thread-safe per the ILogger docs); the Rust callback is `Send + Sync`.
#[cfg(trt_shim)]
unsafe impl Send for LoggerInner {}
// SAFETY: as above; every method the Rust side calls takes `&ShimLogger` and locks internally.
#[cfg(trt_shim)]
unsafe impl Sync for LoggerInner {}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger").finish_non_exhaustive()
    }
}

impl Logger {
    /// A logger passing messages at `threshold` or more severe to `callback`.
    pub fn new(
        threshold: Severity,
        callback: impl Fn(Severity, &str) + Send + Sync + 'static,
    ) -> Result<Logger> {
        #[cfg(not(trt_shim))]
        {
            let _ = (threshold, callback);
            Err(Error::TensorRtNotCompiled)
        }
        #[cfg(trt_shim)]
        {
            let panic = Arc::new(PanicSlot::default());
            let sink = Box::new(LogSink {
                callback: Box::new(callback),
                panic: panic.clone(),
            });
            let ptr = sys::new_logger(sink, threshold.to_ffi());
            Ok(Logger {
                inner: Arc::new(LoggerInner { ptr, panic }),
            })
        }
    }

    /// Changes the callback threshold.
    pub fn set_threshold(&self, threshold: Severity) {
        #[cfg(not(trt_shim))]
        {
            let _ = threshold;
            match self.never {}
        }
        #[cfg(trt_shim)]
        self.shim().set_threshold(threshold.to_ffi());
    }

    /// The last error messages TensorRT logged (at most 16, oldest first).
    pub fn last_errors(&self) -> Vec<String> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().last_errors().unwrap_or_else(|e| {
            vec![format!(
                "(the logged errors could not be copied: {})",
                e.what()
            )]
        })
    }

    /// How many errors the calling thread logged through this logger so far. Shim calls compare it before and
    /// after calling TensorRT, so an error another thread logs meanwhile never fails them.
    pub fn error_count(&self) -> u64 {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().error_count()
    }

    /// How many errors were logged through this logger so far, by every thread.
    pub fn total_error_count(&self) -> u64 {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().total_error_count()
    }

    /// Logs `message` through the same path TensorRT uses (for notes from the Rust side, and tests).
    pub fn log(&self, severity: Severity, message: &str) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (severity, message);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().log_for_test(severity.to_ffi(), message);
            self.finish("ILogger::log", r)
        }
    }

    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimLogger {
        self.inner
            .ptr
            .as_ref()
            .expect("new_logger never returns null")
    }

    /// Re-raises a panic from the callback, then maps a shim exception.
    #[cfg(trt_shim)]
    fn finish<T>(&self, call: &str, r: std::result::Result<T, cxx::Exception>) -> Result<T> {
        self.inner.panic.resume();
        r.map_err(|e| map_exception(call, &e))
    }
}

// ------------------------------------------------------------------------------------------------ host memory

/// Bytes TensorRT produced (a serialized engine or timing cache).
pub struct HostMemory {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimHostMemory>,
    #[cfg(not(trt_shim))]
    never: Never,
}

// SAFETY: IHostMemory is an immutable byte buffer once returned; reading it from several threads is fine and
// deleting it needs no particular thread.
#[cfg(trt_shim)]
unsafe impl Send for HostMemory {}
// SAFETY: see Send; only `data()`/`size()` are called through `&self`.
#[cfg(trt_shim)]
unsafe impl Sync for HostMemory {}

impl HostMemory {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.ptr.as_ref().map_or(&[], |m| m.bytes())
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl fmt::Debug for HostMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostMemory")
            .field("len", &self.len())
            .finish()
    }
}

// ------------------------------------------------------------------------------------------------ runtime side

/// Registers TensorRT's standard plugins (`initLibNvInferPlugins` from libnvinfer_plugin) with `namespace`
/// (usually ""). Needed before deserializing or building engines that use them.
pub fn init_plugins(logger: &Logger, namespace: &str) -> Result<()> {
    #[cfg(not(trt_shim))]
    {
        let _ = (logger, namespace);
        Err(Error::TensorRtNotCompiled)
    }
    #[cfg(trt_shim)]
    {
        prepare_factory(FactoryUse::Run)?;
        let lib = crate::loader::plugins()?;
        let addr = lib.init_lib_nvinfer_plugins as usize;
        // SAFETY: `addr` is initLibNvInferPlugins resolved by the loader from a library kept open for the process;
        // its signature is `bool(void* logger, char const* ns)` in every supported release. The plugin library
        // keeps the logger pointer in a process-wide global: the logger is kept alive for the rest of the process
        // (below), whatever happens to the caller's handles.
        let r = unsafe { sys::init_plugins(logger.shim(), addr, namespace) };
        keep_for_process(logger);
        logger.finish("initLibNvInferPlugins", r)
    }
}

/// Loggers handed to `initLibNvInferPlugins`. The plugin library stores the pointer in a global and logs through it
/// for the rest of the process, so each logger it was given must outlive every `Library`: they are kept here (one
/// per initialization; each a few hundred bytes) and never dropped.
static PLUGIN_LOGGERS: std::sync::Mutex<Vec<Logger>> = std::sync::Mutex::new(Vec::new());

#[cfg(trt_shim)]
fn keep_for_process(logger: &Logger) {
    PLUGIN_LOGGERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(logger.clone());
}

/// How many loggers the plugin library was handed (and are kept for the process).
pub fn plugin_loggers_kept() -> usize {
    PLUGIN_LOGGERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len()
}

/// `getPluginRegistry()->loadLibrary(path)` on the registry of `trt` (TensorRT ≥ 8.6): registers a plugin library
/// that exports `getPluginCreators`/`getCreators`. Use [`crate::plugin_lib::load_plugin_library`], which checks the
/// file first and decides whether this or plain loading applies.
pub fn load_plugin_library_via_registry(
    logger: &Logger,
    trt: &crate::loader::TensorRtLibs,
    path: &Path,
) -> Result<()> {
    #[cfg(not(trt_shim))]
    {
        let _ = (logger, trt, path);
        Err(Error::TensorRtNotCompiled)
    }
    #[cfg(trt_shim)]
    {
        check_compiled(compiled_version(), trt.version, trt.nvinfer.path())?;
        let registry = trt
            .entry
            .get_plugin_registry
            .ok_or_else(|| Error::SymbolMissing {
                library: trt.nvinfer.path().to_owned(),
                symbol: "getPluginRegistry".into(),
            })?;
        let file = path.to_str().ok_or_else(|| Error::PluginLibrary {
            path: path.to_owned(),
            message:
                "its path is not valid UTF-8, which TensorRT's loadLibrary cannot take; rename it"
                    .into(),
        })?;
        // SAFETY: `registry` is getPluginRegistry resolved from `trt`, whose library stays open (the caller's
        // contract); its signature is `IPluginRegistry*()` in every supported release. The registry keeps the
        // library open itself.
        let r =
            unsafe { sys::plugin_registry_load_library(logger.shim(), registry as usize, file) };
        logger.finish("IPluginRegistry::loadLibrary", r)
    }
}

/// `IRuntime`: deserializes engines.
#[derive(Clone)]
pub struct Runtime {
    #[cfg(trt_shim)]
    inner: Arc<RuntimeInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

#[cfg(trt_shim)]
struct RuntimeInner {
    ptr: cxx::UniquePtr<sys::ShimRuntime>,
    logger: Logger,
}

// SAFETY: TensorRT's developer guide (Thread Safety): "the runtime can be used by multiple threads simultaneously"
// — IRuntime::deserializeCudaEngine may be called concurrently. Deleting it happens once, from the last Arc.
#[cfg(trt_shim)]
unsafe impl Send for RuntimeInner {}
// SAFETY: see Send.
#[cfg(trt_shim)]
unsafe impl Sync for RuntimeInner {}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates a runtime (`createInferRuntime`) from the loaded library (full, lean or dispatch). Checks the major
    /// version and that CUDA is usable first.
    pub fn new(logger: &Logger) -> Result<Runtime> {
        #[cfg(not(trt_shim))]
        {
            let _ = logger;
            Err(Error::TensorRtNotCompiled)
        }
        #[cfg(trt_shim)]
        Self::create(logger, FactoryUse::Run)
    }

    /// A TensorRT for RTX runtime for [`Runtime::engine_validity`] alone: created without a usable GPU (only
    /// libcudart must load). Elsewhere the same as [`Runtime::new`]. Never deserialize with it: without a GPU
    /// TensorRT cannot, and the device check [`Runtime::new`] does is skipped here.
    pub fn new_for_inspection(logger: &Logger) -> Result<Runtime> {
        #[cfg(not(trt_shim))]
        {
            let _ = logger;
            Err(Error::TensorRtNotCompiled)
        }
        #[cfg(trt_shim)]
        Self::create(logger, FactoryUse::Inspect)
    }

    #[cfg(trt_shim)]
    fn create(logger: &Logger, purpose: FactoryUse) -> Result<Runtime> {
        let libs = prepare_factory(purpose)?;
        let addr = libs.entry.create_infer_runtime as usize;
        // SAFETY: createInferRuntime_INTERNAL resolved by the loader (library open for the process), signature
        // `void*(void* logger, int32_t version)`; the logger is kept alive by RuntimeInner.
        let r = unsafe { sys::new_runtime(logger.shim(), addr) };
        let ptr = logger.finish("createInferRuntime", r)?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                ptr,
                logger: logger.clone(),
            }),
        })
    }

    /// Deserializes an engine (`IRuntime::deserializeCudaEngine`). Verify provenance before calling: TensorRT
    /// trusts the bytes.
    pub fn deserialize(&self, engine: &[u8]) -> Result<Engine> {
        self.deserialize_inner(engine, None).map(|(e, _)| e)
    }

    /// Deserializes an engine and enables the TensorRT-RTX JIT runtime cache on it, seeded with `cache` (empty: a
    /// new cache). Returns the engine and whether TensorRT accepted the seed (false: it came from another GPU,
    /// driver or release, and the cache starts empty). Every context of the engine shares the cache; save it with
    /// [`Engine::serialize_runtime_cache`]. [`Error::Unsupported`] outside TensorRT-RTX.
    pub fn deserialize_with_runtime_cache(
        &self,
        engine: &[u8],
        cache: &[u8],
    ) -> Result<(Engine, bool)> {
        self.deserialize_inner(engine, Some(cache))
    }

    fn deserialize_inner(&self, engine: &[u8], cache: Option<&[u8]>) -> Result<(Engine, bool)> {
        #[cfg(not(trt_shim))]
        {
            let _ = (engine, cache);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let shim = self.inner.ptr.as_ref().expect("non-null runtime");
            let r = shim.deserialize(engine);
            let ptr = self
                .inner
                .logger
                .finish("IRuntime::deserializeCudaEngine", r)?;
            let mut accepted = false;
            if let Some(blob) = cache {
                let e = ptr.as_ref().expect("non-null engine");
                let r = e.enable_runtime_cache(blob);
                accepted = self.inner.logger.finish("IRuntimeCache", r)?;
            }
            Ok((
                Engine {
                    inner: Arc::new(EngineInner {
                        ptr,
                        logger: self.inner.logger.clone(),
                        _runtime: self.clone(),
                    }),
                },
                accepted,
            ))
        }
    }

    /// `IRuntime::getEngineValidity` (TensorRT-RTX; [`Error::Unsupported`] elsewhere): judges a serialized engine
    /// from its header alone, without a GPU and without deserializing it.
    pub fn engine_validity(&self, engine: &[u8]) -> Result<EngineValidity> {
        #[cfg(not(trt_shim))]
        {
            let _ = engine;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let shim = self.inner.ptr.as_ref().expect("non-null runtime");
            let r = shim.engine_validity(engine);
            let d = self.inner.logger.finish("IRuntime::getEngineValidity", r)?;
            Ok(EngineValidity {
                status: d.validity,
                diagnostics: d.diagnostics,
                header_size: d.header_size,
                header_checked: d.checked,
                logged: (!d.logged.is_empty()).then_some(d.logged),
            })
        }
    }
}

/// `ICudaEngine`: a built network. Cloning shares it.
#[derive(Clone)]
pub struct Engine {
    #[cfg(trt_shim)]
    inner: Arc<EngineInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

#[cfg(trt_shim)]
struct EngineInner {
    ptr: cxx::UniquePtr<sys::ShimEngine>,
    logger: Logger,
    // Declared last: the engine is deleted before its runtime.
    _runtime: Runtime,
}

// SAFETY: TensorRT's Thread Safety section: an ICudaEngine may be shared by threads (const queries, creating
// execution contexts); only execution contexts must not be used concurrently.
#[cfg(trt_shim)]
unsafe impl Send for EngineInner {}
// SAFETY: see Send.
#[cfg(trt_shim)]
unsafe impl Sync for EngineInner {}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimEngine {
        self.inner.ptr.as_ref().expect("non-null engine")
    }

    /// Number of IO tensors.
    pub fn num_io_tensors(&self) -> usize {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        usize::try_from(self.shim().num_io_tensors()).unwrap_or(0)
    }

    /// Every IO tensor: name, mode, type, shape (-1 = dynamic), format.
    pub fn io_tensors(&self) -> Result<Vec<TensorDesc>> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let mut out = Vec::new();
            for i in 0..self.shim().num_io_tensors() {
                let r = self.shim().io_tensor(i);
                let d = self
                    .inner
                    .logger
                    .finish("ICudaEngine::getIOTensorName", r)?;
                out.push(TensorDesc {
                    name: d.name,
                    mode: enum_from_ffi(TensorIoMode::from_ffi(d.mode), TensorIoMode::None),
                    data_type: enum_from_ffi(DataType::from_ffi(d.data_type), DataType::Unknown),
                    shape: d.shape,
                    format: enum_from_ffi(TensorFormat::from_ffi(d.format), TensorFormat::Unknown),
                    format_desc: d.format_desc,
                });
            }
            Ok(out)
        }
    }

    /// Number of optimization profiles.
    pub fn num_profiles(&self) -> usize {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        usize::try_from(self.shim().num_profiles()).unwrap_or(0)
    }

    /// The min/opt/max shape of input `tensor` in `profile`.
    pub fn profile_shape(
        &self,
        tensor: &str,
        profile: usize,
        which: ProfileSelector,
    ) -> Result<Vec<i64>> {
        #[cfg(not(trt_shim))]
        {
            let _ = (tensor, profile, which);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let p = i32::try_from(profile).map_err(|_| Error::TensorRt {
                call: "ICudaEngine::getProfileShape".into(),
                message: format!("profile index {profile} out of range"),
            })?;
            let r = self.shim().profile_shape(tensor, p, which.to_ffi());
            self.inner.logger.finish("ICudaEngine::getProfileShape", r)
        }
    }

    /// Device memory a context needs (bytes).
    pub fn device_memory_size(&self) -> u64 {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        u64::try_from(self.shim().device_memory_size()).unwrap_or(0)
    }

    /// Number of layers in the engine.
    pub fn num_layers(&self) -> usize {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        usize::try_from(ShimEngineExt::layers(self.shim())).unwrap_or(0)
    }

    /// Layer information as JSON (`IEngineInspector`); detailed only for engines built with
    /// [`ProfilingVerbosity::Detailed`].
    pub fn layer_info_json(&self) -> Result<String> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().layer_info_json();
            self.inner
                .logger
                .finish("IEngineInspector::getEngineInformation", r)
        }
    }

    /// Serializes the engine (`ICudaEngine::serialize`).
    pub fn serialize(&self) -> Result<HostMemory> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().serialize();
            Ok(HostMemory {
                ptr: self.inner.logger.finish("ICudaEngine::serialize", r)?,
            })
        }
    }

    /// Serializes the TensorRT-RTX JIT runtime cache enabled by [`Runtime::deserialize_with_runtime_cache`] (the
    /// kernels compiled so far), for the next start.
    pub fn serialize_runtime_cache(&self) -> Result<HostMemory> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().serialize_runtime_cache();
            Ok(HostMemory {
                ptr: self.inner.logger.finish("IRuntimeCache::serialize", r)?,
            })
        }
    }

    /// Creates an execution context (allocates its device memory).
    pub fn create_execution_context(&self) -> Result<ExecutionContext> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().create_context();
            let ptr = self
                .inner
                .logger
                .finish("ICudaEngine::createExecutionContext", r)?;
            Ok(ExecutionContext {
                ptr,
                engine: self.clone(),
            })
        }
    }
}

/// Disambiguates `num_layers`, which both ShimNetwork and ShimEngine declare.
#[cfg(trt_shim)]
trait ShimEngineExt {
    fn layers(&self) -> i32;
}

#[cfg(trt_shim)]
impl ShimEngineExt for sys::ShimEngine {
    fn layers(&self) -> i32 {
        self.num_layers()
    }
}

/// `IExecutionContext`: per-inference state. `Send` but not `Sync`: TensorRT allows one thread at a time.
pub struct ExecutionContext {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimContext>,
    // Declared after `ptr`: the context is deleted before its engine.
    #[cfg(trt_shim)]
    engine: Engine,
    #[cfg(not(trt_shim))]
    never: Never,
}

// SAFETY: an IExecutionContext may be used from any thread as long as it is not used by two at once (TensorRT
// Thread Safety); `&mut self` on every mutating method and the absence of `Sync` enforce that.
#[cfg(trt_shim)]
unsafe impl Send for ExecutionContext {}

impl fmt::Debug for ExecutionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionContext").finish_non_exhaustive()
    }
}

impl ExecutionContext {
    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimContext {
        self.ptr.as_ref().expect("non-null context")
    }

    /// The engine this context runs.
    pub fn engine(&self) -> &Engine {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        &self.engine
    }

    /// Sets the shape of input `tensor` (must lie within the active profile).
    pub fn set_input_shape(&mut self, tensor: &str, dims: &[i64]) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (tensor, dims);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().set_input_shape(tensor, dims);
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::setInputShape", r)
        }
    }

    /// The current shape of IO tensor `tensor` (outputs after shape inference; -1 while inputs are unset).
    pub fn tensor_shape(&self, tensor: &str) -> Result<Vec<i64>> {
        #[cfg(not(trt_shim))]
        {
            let _ = tensor;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().tensor_shape(tensor);
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::getTensorShape", r)
        }
    }

    /// Whether every input shape has been set.
    pub fn all_input_dimensions_specified(&self) -> bool {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().all_input_dimensions_specified()
    }

    /// Selects optimization profile `profile`, enqueuing any needed work on `stream`.
    ///
    /// # Safety
    /// `stream` must be a valid CUDA stream (or null for the legacy default stream) of the current device.
    pub unsafe fn set_optimization_profile_async(
        &mut self,
        profile: usize,
        stream: cudaStream_t,
    ) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (profile, stream);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let p = i32::try_from(profile).unwrap_or(i32::MAX);
            let r = self
                .shim()
                .set_optimization_profile_async(p, stream as usize);
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::setOptimizationProfileAsync", r)
        }
    }

    /// Binds IO tensor `tensor` to device memory at `address`.
    ///
    /// # Safety
    /// `address` must point to device memory large enough for the tensor's current shape and type, suitably
    /// aligned, and stay valid (not freed, not reused by other work) until every enqueue that uses it has
    /// completed on its stream.
    pub unsafe fn set_tensor_address(&mut self, tensor: &str, address: *mut c_void) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (tensor, address);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            // SAFETY: forwarded contract (see above).
            let r = unsafe { self.shim().set_tensor_address(tensor, address as usize) };
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::setTensorAddress", r)
        }
    }

    /// Sets the event TensorRT records once the inputs of the next enqueue may be reused (null clears it).
    ///
    /// # Safety
    /// `event` must be a valid CUDA event (or null) that outlives every enqueue that records it.
    pub unsafe fn set_input_consumed_event(&mut self, event: cudaEvent_t) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = event;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            // SAFETY: forwarded contract (see above).
            let r = unsafe { self.shim().set_input_consumed_event(event as usize) };
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::setInputConsumedEvent", r)
        }
    }

    /// Enqueues inference on `stream` (`enqueueV3`). Asynchronous: results are ready after the stream is
    /// synchronized; inputs may be reused after the input-consumed event.
    ///
    /// # Safety
    /// Every IO tensor address set on this context must be valid device memory as described in
    /// [`ExecutionContext::set_tensor_address`] until the work completes; `stream` must be a valid CUDA stream.
    pub unsafe fn enqueue_v3(&mut self, stream: cudaStream_t) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = stream;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            // SAFETY: forwarded contract (see above).
            let r = unsafe { self.shim().enqueue_v3(stream as usize) };
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::enqueueV3", r)
        }
    }
}

// ------------------------------------------------------------------------------------------------ builder side
//
// Builder-side handles are neither Send nor Sync: TensorRT's builder objects must not be used from two threads at
// once, and a network, config or profile shares state with its builder. Create and use them on one thread.

#[cfg(trt_shim)]
struct BuilderInner {
    ptr: cxx::UniquePtr<sys::ShimBuilder>,
    logger: Logger,
}

/// `IBuilder`: builds serialized engines. Needs the full libnvinfer (not lean/dispatch).
pub struct Builder {
    #[cfg(trt_shim)]
    inner: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").finish_non_exhaustive()
    }
}

impl Builder {
    /// Creates a builder (`createInferBuilder`). Checks the major version and that CUDA is usable first.
    pub fn new(logger: &Logger) -> Result<Builder> {
        #[cfg(not(trt_shim))]
        {
            let _ = logger;
            Err(Error::TensorRtNotCompiled)
        }
        #[cfg(trt_shim)]
        {
            let libs = prepare_factory(FactoryUse::Build)?;
            let addr = libs.entry.create_infer_builder.map_or(0, |f| f as usize);
            // SAFETY: createInferBuilder_INTERNAL resolved by the loader (0 when absent: the shim then fails with
            // "unsupported"), signature `void*(void* logger, int32_t version)`; the logger is kept alive by
            // BuilderInner.
            let r = unsafe { sys::new_builder(logger.shim(), addr) };
            let ptr = logger.finish("createInferBuilder", r)?;
            Ok(Builder {
                inner: std::rc::Rc::new(BuilderInner {
                    ptr,
                    logger: logger.clone(),
                }),
            })
        }
    }

    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimBuilder {
        self.inner.ptr.as_ref().expect("non-null builder")
    }

    /// Number of DLA cores on this platform (0 without DLA).
    pub fn num_dla_cores(&self) -> i32 {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().num_dla_cores()
    }

    /// Creates an empty network. 8.x networks use explicit batch. `strongly_typed` requests kSTRONGLY_TYPED
    /// (10.x; an [`Error::Unsupported`] on 8.x); on 11.x every network is strongly typed regardless.
    pub fn create_network(&mut self, strongly_typed: bool) -> Result<Network> {
        #[cfg(not(trt_shim))]
        {
            let _ = strongly_typed;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().create_network(strongly_typed);
            let ptr = self.inner.logger.finish("IBuilder::createNetworkV2", r)?;
            Ok(Network {
                ptr,
                builder: self.inner.clone(),
            })
        }
    }

    /// Creates a builder config.
    pub fn create_config(&mut self) -> Result<BuilderConfig> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().create_config();
            let ptr = self
                .inner
                .logger
                .finish("IBuilder::createBuilderConfig", r)?;
            Ok(BuilderConfig {
                ptr,
                panics: Vec::new(),
                builder: self.inner.clone(),
            })
        }
    }

    /// Creates an optimization profile (owned by the builder; add it to a config).
    pub fn create_optimization_profile(&mut self) -> Result<OptimizationProfile> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().create_profile();
            let ptr = self
                .inner
                .logger
                .finish("IBuilder::createOptimizationProfile", r)?;
            Ok(OptimizationProfile {
                ptr,
                builder: self.inner.clone(),
            })
        }
    }

    /// Builds and serializes `network` with `config` (`buildSerializedNetwork`). Panics raised in the progress
    /// monitor or calibrator are re-raised here after TensorRT returns.
    pub fn build_serialized_network(
        &mut self,
        network: &Network,
        config: &BuilderConfig,
    ) -> Result<HostMemory> {
        #[cfg(not(trt_shim))]
        {
            let _ = (network, config);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().build_serialized(network.shim(), config.shim());
            for p in &config.panics {
                p.resume();
            }
            let ptr = self
                .inner
                .logger
                .finish("IBuilder::buildSerializedNetwork", r)?;
            Ok(HostMemory { ptr })
        }
    }
}

/// `INetworkDefinition`: the network being built (filled by a [`Parser`]).
pub struct Network {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimNetwork>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

impl Network {
    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimNetwork {
        self.ptr.as_ref().expect("non-null network")
    }

    #[cfg(trt_shim)]
    fn finish<T>(&self, call: &str, r: std::result::Result<T, cxx::Exception>) -> Result<T> {
        self.builder.logger.finish(call, r)
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        usize::try_from(self.shim().num_layers()).unwrap_or(0)
    }

    /// Layer `index`.
    pub fn layer(&self, index: usize) -> Result<LayerDesc> {
        #[cfg(not(trt_shim))]
        {
            let _ = index;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().layer(i32::try_from(index).unwrap_or(i32::MAX));
            let d = self.finish("INetworkDefinition::getLayer", r)?;
            Ok(LayerDesc {
                index,
                name: d.name,
                kind: d.kind,
                plugin: d.plugin,
                precision: enum_from_ffi(DataType::from_ffi(d.precision), DataType::Unknown),
                precision_is_set: d.precision_is_set,
                output_names: d.output_names,
                output_types: d
                    .output_types
                    .into_iter()
                    .map(|t| enum_from_ffi(DataType::from_ffi(t), DataType::Unknown))
                    .collect(),
            })
        }
    }

    /// Every layer, in order.
    pub fn layers(&self) -> Result<Vec<LayerDesc>> {
        (0..self.num_layers()).map(|i| self.layer(i)).collect()
    }

    /// Requests compute precision `data_type` for layer `index` (<= 10.x; honoured with
    /// [`BuilderFlag::ObeyPrecisionConstraints`]/[`BuilderFlag::PreferPrecisionConstraints`]).
    pub fn set_layer_precision(&mut self, index: usize, data_type: DataType) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (index, data_type);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self
                .shim()
                .set_layer_precision(i32::try_from(index).unwrap_or(i32::MAX), data_type.to_ffi());
            self.finish("ILayer::setPrecision", r)
        }
    }

    /// Requests type `data_type` for output `output` of layer `index` (<= 10.x).
    pub fn set_layer_output_type(
        &mut self,
        index: usize,
        output: usize,
        data_type: DataType,
    ) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (index, output, data_type);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().set_layer_output_type(
                i32::try_from(index).unwrap_or(i32::MAX),
                i32::try_from(output).unwrap_or(i32::MAX),
                data_type.to_ffi(),
            );
            self.finish("ILayer::setOutputType", r)
        }
    }

    #[cfg(trt_shim)]
    fn tensors(v: Vec<sys::NetworkTensorDesc>) -> Vec<NetworkTensorDesc> {
        v.into_iter()
            .map(|t| NetworkTensorDesc {
                name: t.name,
                data_type: enum_from_ffi(DataType::from_ffi(t.data_type), DataType::Unknown),
                shape: t.shape,
            })
            .collect()
    }

    /// Network inputs.
    pub fn inputs(&self) -> Result<Vec<NetworkTensorDesc>> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        Ok(Self::tensors(self.finish(
            "INetworkDefinition::getInput",
            self.shim().inputs(),
        )?))
    }

    /// Network outputs.
    pub fn outputs(&self) -> Result<Vec<NetworkTensorDesc>> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        Ok(Self::tensors(self.finish(
            "INetworkDefinition::getOutput",
            self.shim().outputs(),
        )?))
    }

    /// Marks the tensor named `tensor` as a network output.
    pub fn mark_output(&mut self, tensor: &str) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = tensor;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().mark_output(tensor);
            self.finish("INetworkDefinition::markOutput", r)
        }
    }

    /// Removes the tensor named `tensor` from the network outputs.
    pub fn unmark_output(&mut self, tensor: &str) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = tensor;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().unmark_output(tensor);
            self.finish("INetworkDefinition::unmarkOutput", r)
        }
    }
}

/// `nvonnxparser::IParser` together with the network it fills. The parser owns weights the network refers to,
/// so the two live and die together (the parser is deleted first).
pub struct Parser {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimParser>,
    #[cfg(trt_shim)]
    network: Network,
    #[cfg(not(trt_shim))]
    never: Never,
}

impl fmt::Debug for Parser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parser").finish_non_exhaustive()
    }
}

impl Parser {
    /// Creates an ONNX parser (`createNvOnnxParser` from libnvonnxparser) that fills `network`.
    pub fn new(network: Network) -> Result<Parser> {
        #[cfg(not(trt_shim))]
        match network.never {}
        #[cfg(trt_shim)]
        {
            prepare_factory(FactoryUse::Build)?;
            let lib = crate::loader::onnx_parser()?;
            let addr = lib.create_nv_onnx_parser as usize;
            let logger = network.builder.logger.clone();
            // SAFETY: createNvOnnxParser_INTERNAL resolved by the loader (library open for the process),
            // signature `void*(void* network, void* logger, int version)`; network and logger outlive the parser
            // (Parser owns the network and drops the parser first; the network's builder keeps the logger).
            let r = unsafe { sys::new_parser(network.shim(), logger.shim(), addr) };
            let ptr = logger.finish("createNvOnnxParser", r)?;
            Ok(Parser { ptr, network })
        }
    }

    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimParser {
        self.ptr.as_ref().expect("non-null parser")
    }

    /// Parses an ONNX model from memory. `model_path` (optional) lets external weight files resolve. On failure
    /// the error lists every parser error (node index, node name and operator where the release has them,
    /// message); [`Parser::errors`] gives them structured.
    pub fn parse(&mut self, model: &[u8], model_path: Option<&Path>) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (model, model_path);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let path = model_path
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ok = self.shim().parse(model, &path);
            self.network.builder.logger.inner.panic.resume();
            if ok {
                return Ok(());
            }
            let errors = self.errors();
            let message = if errors.is_empty() {
                "the parser reported failure without an error record".to_owned()
            } else {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Err(Error::TensorRt {
                call: "IParser::parse".to_owned(),
                message,
            })
        }
    }

    /// The errors recorded by the last [`Parser::parse`].
    pub fn errors(&self) -> Vec<ParserError> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim()
            .errors()
            .unwrap_or_else(|e| {
                vec![sys::ParserErrorDesc {
                    code: sys::ParserErrorCode::InternalError,
                    description: format!("the parser's errors could not be copied: {}", e.what()),
                    file: String::new(),
                    line: 0,
                    function: String::new(),
                    node_index: -1,
                    node_name: String::new(),
                    node_operator: String::new(),
                }]
            })
            .into_iter()
            .map(|e| ParserError {
                code: enum_from_ffi(ParserErrorCode::from_ffi(e.code), ParserErrorCode::Unknown),
                description: e.description,
                file: e.file,
                line: e.line,
                function: e.function,
                node_index: e.node_index,
                node_name: e.node_name,
                node_operator: e.node_operator,
            })
            .collect()
    }

    /// Clears recorded errors.
    pub fn clear_errors(&mut self) {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().clear_errors();
    }

    /// Whether the parser has an importer for ONNX operator `op`.
    pub fn supports_operator(&self, op: &str) -> bool {
        #[cfg(not(trt_shim))]
        {
            let _ = op;
            match self.never {}
        }
        #[cfg(trt_shim)]
        self.shim().supports_operator(op)
    }

    /// The network being filled.
    pub fn network(&self) -> &Network {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        &self.network
    }

    /// The network being filled, mutably (mark outputs, set layer precisions).
    pub fn network_mut(&mut self) -> &mut Network {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        &mut self.network
    }
}

/// `IBuilderConfig`.
pub struct BuilderConfig {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimConfig>,
    #[cfg(trt_shim)]
    panics: Vec<Arc<PanicSlot>>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

impl fmt::Debug for BuilderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuilderConfig").finish_non_exhaustive()
    }
}

macro_rules! config_call {
    ($self:ident, $call:literal, |$s:ident| $body:expr) => {{
        #[cfg(not(trt_shim))]
        match $self.never {}
        #[cfg(trt_shim)]
        {
            let $s = $self.shim();
            let r = $body;
            $self.builder.logger.finish($call, r)
        }
    }};
}

impl BuilderConfig {
    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimConfig {
        self.ptr.as_ref().expect("non-null config")
    }

    /// Limits memory pool `pool` to `bytes`.
    pub fn set_memory_pool_limit(&mut self, pool: MemoryPool, bytes: u64) -> Result<()> {
        let _ = (pool, bytes);
        config_call!(self, "IBuilderConfig::setMemoryPoolLimit", |s| s
            .set_memory_pool_limit(pool.to_ffi(), bytes))
    }

    /// The limit of memory pool `pool`.
    pub fn memory_pool_limit(&self, pool: MemoryPool) -> Result<u64> {
        let _ = pool;
        config_call!(self, "IBuilderConfig::getMemoryPoolLimit", |s| s
            .memory_pool_limit(pool.to_ffi()))
    }

    /// Sets or clears `flag`; [`Error::Unsupported`] when the compiled release lacks it.
    pub fn set_flag(&mut self, flag: BuilderFlag, on: bool) -> Result<()> {
        let _ = (flag, on);
        config_call!(self, "IBuilderConfig::setFlag", |s| s
            .set_flag(flag.to_ffi(), on))
    }

    /// Whether `flag` is set.
    pub fn flag(&self, flag: BuilderFlag) -> Result<bool> {
        let _ = flag;
        config_call!(self, "IBuilderConfig::getFlag", |s| s.flag(flag.to_ffi()))
    }

    /// Runs layers on DLA core `core` by default (pair with [`DeviceType::Dla`] and [`BuilderFlag::GpuFallback`]).
    pub fn set_dla_core(&mut self, core: i32) -> Result<()> {
        let _ = core;
        config_call!(self, "IBuilderConfig::setDLACore", |s| s.set_dla_core(core))
    }

    /// Default device for layers.
    pub fn set_default_device_type(&mut self, device: DeviceType) -> Result<()> {
        let _ = device;
        config_call!(self, "IBuilderConfig::setDefaultDeviceType", |s| s
            .set_default_device_type(device.to_ffi()))
    }

    /// How much layer information the engine keeps.
    pub fn set_profiling_verbosity(&mut self, verbosity: ProfilingVerbosity) -> Result<()> {
        let _ = verbosity;
        config_call!(self, "IBuilderConfig::setProfilingVerbosity", |s| s
            .set_profiling_verbosity(verbosity.to_ffi()))
    }

    /// Builder optimization level 0..=5 (>= 8.6).
    pub fn set_builder_optimization_level(&mut self, level: i32) -> Result<()> {
        let _ = level;
        config_call!(self, "IBuilderConfig::setBuilderOptimizationLevel", |s| s
            .set_builder_optimization_level(level))
    }

    /// Hardware compatibility level (>= 8.6).
    pub fn set_hardware_compatibility(&mut self, level: HardwareCompatibility) -> Result<()> {
        let _ = level;
        config_call!(self, "IBuilderConfig::setHardwareCompatibilityLevel", |s| s
            .set_hardware_compatibility(level.to_ffi()))
    }

    /// Adds an optimization profile; returns its index.
    pub fn add_optimization_profile(&mut self, profile: &OptimizationProfile) -> Result<usize> {
        #[cfg(not(trt_shim))]
        {
            let _ = profile;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().add_profile(profile.shim());
            let i = self
                .builder
                .logger
                .finish("IBuilderConfig::addOptimizationProfile", r)?;
            Ok(usize::try_from(i).unwrap_or(0))
        }
    }

    /// Creates a timing cache from a serialized one (`blob`), or an empty cache when `blob` is empty.
    pub fn create_timing_cache(&self, blob: &[u8]) -> Result<TimingCache> {
        #[cfg(not(trt_shim))]
        {
            let _ = blob;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().create_timing_cache(blob);
            let ptr = self
                .builder
                .logger
                .finish("IBuilderConfig::createTimingCache", r)?;
            Ok(TimingCache {
                ptr,
                builder: self.builder.clone(),
            })
        }
    }

    /// Attaches `cache` (the config keeps it alive); `ignore_mismatch` accepts a cache from another device.
    pub fn set_timing_cache(&mut self, cache: TimingCache, ignore_mismatch: bool) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = ignore_mismatch;
            match cache.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().set_timing_cache(cache.ptr, ignore_mismatch);
            self.builder
                .logger
                .finish("IBuilderConfig::setTimingCache", r)
        }
    }

    /// Serializes the attached timing cache (after a build it holds the new timings).
    pub fn serialize_timing_cache(&self) -> Result<HostMemory> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().serialize_timing_cache();
            Ok(HostMemory {
                ptr: self.builder.logger.finish("ITimingCache::serialize", r)?,
            })
        }
    }

    /// Reports build progress to `monitor` (>= 10.0).
    pub fn set_progress_monitor(&mut self, monitor: Box<dyn ProgressMonitor>) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = monitor;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let panic = Arc::new(PanicSlot::default());
            let sink = Box::new(ProgressSink {
                monitor: std::sync::Mutex::new(monitor),
                panic: panic.clone(),
            });
            let r = self.shim().set_progress_monitor(sink);
            self.builder
                .logger
                .finish("IBuilderConfig::setProgressMonitor", r)?;
            self.panics.push(panic);
            Ok(())
        }
    }

    /// Calibrates INT8 with `calibrator` (<= 10.x; TensorRT 11 removed calibrators: use Q/DQ in the ONNX).
    pub fn set_int8_calibrator(
        &mut self,
        calibrator: Box<dyn Int8Calibrator>,
        algorithm: CalibrationAlgorithm,
    ) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (calibrator, algorithm);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let panic = Arc::new(PanicSlot::default());
            let sink = Box::new(CalibratorSink {
                calibrator: std::sync::Mutex::new(calibrator),
                panic: panic.clone(),
            });
            let r = self.shim().set_int8_calibrator(sink, algorithm.to_ffi());
            self.builder
                .logger
                .finish("IBuilderConfig::setInt8Calibrator", r)?;
            self.panics.push(panic);
            Ok(())
        }
    }
}

impl BuilderConfig {
    /// The GPU architectures a TensorRT-RTX engine is compiled for, as SM numbers (75 is 7.5, 120 is 12.0), or
    /// [`COMPUTE_CAPABILITY_CURRENT`] alone for the GPU present. Empty keeps the library's default.
    /// [`Error::Unsupported`] outside TensorRT-RTX; a value the release does not list is an error naming its
    /// targets.
    pub fn set_compute_capabilities(&mut self, targets: &[i32]) -> Result<()> {
        let _ = targets;
        config_call!(self, "IBuilderConfig::setComputeCapability", |s| s
            .set_compute_capabilities(targets))
    }

    /// The compute-capability targets set on this config (SM numbers; empty: the default, or not TensorRT-RTX).
    pub fn compute_capabilities(&self) -> Result<Vec<i32>> {
        config_call!(self, "IBuilderConfig::getComputeCapability", |s| s
            .compute_capabilities())
    }
}

/// `IOptimizationProfile` (owned by its builder, which this handle keeps alive).
pub struct OptimizationProfile {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimProfile>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

impl fmt::Debug for OptimizationProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptimizationProfile")
            .finish_non_exhaustive()
    }
}

impl OptimizationProfile {
    #[cfg(trt_shim)]
    fn shim(&self) -> &sys::ShimProfile {
        self.ptr.as_ref().expect("non-null profile")
    }

    /// Sets the `which` shape of input `input`.
    pub fn set_dimensions(
        &mut self,
        input: &str,
        which: ProfileSelector,
        dims: &[i64],
    ) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (input, which, dims);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().set_dimensions(input, which.to_ffi(), dims);
            self.builder
                .logger
                .finish("IOptimizationProfile::setDimensions", r)
        }
    }

    /// Sets min, opt and max shapes of input `input` at once.
    pub fn set_shapes(&mut self, input: &str, min: &[i64], opt: &[i64], max: &[i64]) -> Result<()> {
        self.set_dimensions(input, ProfileSelector::Min, min)?;
        self.set_dimensions(input, ProfileSelector::Opt, opt)?;
        self.set_dimensions(input, ProfileSelector::Max, max)
    }

    /// The `which` shape of input `input`.
    pub fn dimensions(&self, input: &str, which: ProfileSelector) -> Result<Vec<i64>> {
        #[cfg(not(trt_shim))]
        {
            let _ = (input, which);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().dimensions(input, which.to_ffi());
            self.builder
                .logger
                .finish("IOptimizationProfile::getDimensions", r)
        }
    }
}

/// `ITimingCache`: tactic timings reused across builds.
pub struct TimingCache {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<sys::ShimTimingCache>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

impl fmt::Debug for TimingCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimingCache").finish_non_exhaustive()
    }
}

impl TimingCache {
    /// Serializes the cache.
    pub fn serialize(&self) -> Result<HostMemory> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self
                .ptr
                .as_ref()
                .expect("non-null timing cache")
                .serialize();
            Ok(HostMemory {
                ptr: self.builder.logger.finish("ITimingCache::serialize", r)?,
            })
        }
    }
}
