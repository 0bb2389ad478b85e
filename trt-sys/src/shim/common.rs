//! Types every area shares (`cpp/common.{h,cc}`): the thirteen shim enums, and what the compiled release offers
//! ([`Capabilities`], [`capabilities`], [`compute_capability_targets`], [`builder_flag_available`]).
//!
//! Each enum is declared once, as a cxx shared enum in the bridge below; the other bridges take it over with
//! `type X = crate::shim::common::ffi::X;` in their `extern "C++"` blocks (cxx book, "Reusing existing binding
//! types"). TensorRT's own enum values never cross the boundary: `cpp/common.cc` maps them to and from these enums,
//! per release.
//!
//! The public enums (`trt_sys::shim::DataType`, ...) are generated from that declaration: build.rs reads the bridge's
//! enums (names, variants, docs) and writes one `shim_enum!` invocation per enum to `$OUT_DIR/shim_enums.rs`,
//! included here. They stay Rust enums, apart from the bridge's: a cxx shared enum is a `#[repr(transparent)]` struct
//! with one constant per variant, which tolerates values a newer library may send (mapped to `Unknown` or another
//! fallback by `from_ffi`) but cannot be matched exhaustively, marked `#[non_exhaustive]`, or glob-imported
//! (`use CalibrationAlgorithm::*`), as the public API allows today. The public enums exist in every build; the
//! bridge, like every other, only with `cfg(trt_shim)`.

#[cfg(not(trt_shim))]
use crate::error::Error;
use crate::error::Result;

#[cfg(trt_shim)]
use super::map_exception;

/// A public shim enum for the bridge enum of the same name: `Debug`, `Copy`, `Eq`, `Hash`, `#[non_exhaustive]`,
/// [`ALL`](DataType::ALL), and with the shim `to_ffi` / `from_ffi` (`None` for a value the declaration does not
/// list). Invoked only by the code build.rs generates from the bridge.
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
            pub(crate) fn to_ffi(self) -> ffi::$name {
                match self { $($name::$var => ffi::$name::$var),+ }
            }
            #[allow(dead_code)]
            pub(crate) fn from_ffi(v: ffi::$name) -> Option<Self> {
                $(if v == ffi::$name::$var { return Some($name::$var); })+
                None
            }
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/shim_enums.rs"));

impl DataType {
    /// Size of one element in bits (4 for the 4-bit types), `None` for [`DataType::Unknown`].
    pub fn bits(self) -> Option<u32> {
        Some(match self {
            DataType::F32 | DataType::I32 => 32,
            DataType::F16 | DataType::Bf16 => 16,
            DataType::I8 | DataType::Bool | DataType::U8 | DataType::Fp8 | DataType::E8m0 => 8,
            DataType::I64 => 64,
            DataType::I4 | DataType::Fp4 => 4,
            DataType::Unknown => return None,
        })
    }

    /// Bytes per element, `None` for sub-byte and unknown types.
    pub fn size(self) -> Option<usize> {
        self.bits().filter(|b| b % 8 == 0).map(|b| b as usize / 8)
    }

    /// `true` when a host element type exists for it (`f32`, `f16`, `i8`, `i32`, `bool`, `u8`).
    pub fn host_supported(self) -> bool {
        matches!(
            self,
            DataType::F32
                | DataType::F16
                | DataType::I8
                | DataType::I32
                | DataType::Bool
                | DataType::U8
        )
    }

    /// Short lowercase name (`"f32"`, `"bool"` …), as written in sidecars and reports.
    pub fn name(self) -> &'static str {
        match self {
            DataType::F32 => "f32",
            DataType::F16 => "f16",
            DataType::I8 => "i8",
            DataType::I32 => "i32",
            DataType::Bool => "bool",
            DataType::U8 => "u8",
            DataType::Fp8 => "fp8",
            DataType::Bf16 => "bf16",
            DataType::I64 => "i64",
            DataType::I4 => "i4",
            DataType::Fp4 => "fp4",
            DataType::E8m0 => "e8m0",
            DataType::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads [`DataType::name`]'s spelling.
impl std::str::FromStr for DataType {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        DataType::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown data type `{s}`"))
    }
}

impl serde::Serialize for DataType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for DataType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(trt_shim)]
#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
    /// Log severity, most severe first (TensorRT's `ILogger::Severity`).
    #[repr(u8)]
    #[derive(Debug)]
    enum Severity {
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

    /// Tensor element types (`nvinfer1::DataType`). Which exist depends on the release (FP8 >= 8.6, BF16/INT64/INT4
    /// >= 10, FP4/E8M0 in late 10.x and 11.x).
    #[repr(u8)]
    #[derive(Debug)]
    enum DataType {
        /// 32-bit float (`kFLOAT`).
        F32,
        /// 16-bit IEEE float (`kHALF`).
        F16,
        /// Signed 8-bit integer, quantized (`kINT8`).
        I8,
        /// 32-bit signed integer (`kINT32`).
        I32,
        /// Boolean, one byte holding 0 or 1 (`kBOOL`).
        Bool,
        /// Unsigned 8-bit integer (`kUINT8`).
        U8,
        /// 8-bit float E4M3 (`kFP8`); no host type.
        Fp8,
        /// bfloat16 (`kBF16`); no host type.
        Bf16,
        /// 64-bit signed integer (`kINT64`); no host type.
        I64,
        /// 4-bit signed integer, packed (`kINT4`); no host type.
        I4,
        /// 4-bit float E2M1 (`kFP4`); no host type.
        Fp4,
        /// 8-bit exponent-only scale type (`kE8M0`); no host type.
        E8m0,
        /// A type this crate does not know (one added by a newer TensorRT).
        Unknown,
    }

    /// Whether an engine tensor is an input or an output.
    #[repr(u8)]
    #[derive(Debug)]
    enum TensorIoMode {
        /// Neither (not an IO tensor).
        None,
        /// Network input.
        Input,
        /// Network output.
        Output,
    }

    /// Memory layout of an engine IO tensor (`nvinfer1::TensorFormat`).
    #[repr(u8)]
    #[derive(Debug)]
    enum TensorFormat {
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

    /// Builder memory pools (`nvinfer1::MemoryPoolType`).
    #[repr(u8)]
    #[derive(Debug)]
    enum MemoryPool {
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

    /// How much layer information an engine keeps (`nvinfer1::ProfilingVerbosity`).
    #[repr(u8)]
    #[derive(Debug)]
    enum ProfilingVerbosity {
        /// Layer names only (the default).
        LayerNamesOnly,
        /// Nothing.
        None,
        /// Everything (needed for a detailed layer table).
        Detailed,
    }

    /// Where layers run by default.
    #[repr(u8)]
    #[derive(Debug)]
    enum DeviceType {
        /// The GPU.
        Gpu,
        /// A DLA core (Jetson).
        Dla,
    }

    /// Hardware compatibility of a built engine (>= 8.6).
    #[repr(u8)]
    #[derive(Debug)]
    enum HardwareCompatibility {
        /// Only the GPU it was built on (architecture-wise).
        None,
        /// Any Ampere or newer GPU.
        AmperePlus,
        /// Any GPU with the same compute capability (late 10.x and later).
        SameComputeCapability,
    }

    /// Which of an optimization profile's shapes.
    #[repr(u8)]
    #[derive(Debug)]
    enum ProfileSelector {
        /// Smallest allowed.
        Min,
        /// The shape tactics are tuned for.
        Opt,
        /// Largest allowed.
        Max,
    }

    /// Builder flags (`nvinfer1::BuilderFlag`). Not every release has every flag: TensorRT 11 removed the precision
    /// flags (FP16/INT8/BF16/FP8/INT4) in favour of strong typing. Setting a flag the compiled release lacks is an
    /// [`Error::Unsupported`](crate::Error::Unsupported); see
    /// [`builder_flag_available`](crate::shim::builder_flag_available).
    #[repr(u8)]
    #[derive(Debug)]
    enum BuilderFlag {
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

    /// INT8 calibration algorithm for
    /// [`BuilderConfig::set_int8_calibrator`](crate::shim::BuilderConfig::set_int8_calibrator).
    #[repr(u8)]
    #[derive(Debug)]
    enum CalibrationAlgorithm {
        /// Entropy calibration, version 2 (recommended for CNNs).
        Entropy2,
        /// Min/max calibration.
        MinMax,
    }

    /// ONNX parser error codes (`nvonnxparser::ErrorCode`).
    #[repr(u8)]
    #[derive(Debug)]
    enum ParserErrorCode {
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

    /// Tactic sources (`nvinfer1::TacticSource`), enabled or disabled as a set with
    /// [`BuilderConfig::set_tactic_sources`](crate::shim::BuilderConfig::set_tactic_sources). cuBLAS, cuBLASLt and
    /// cuDNN exist up to 10.x (deprecated there); the convolution sources in every release.
    #[repr(u8)]
    #[derive(Debug)]
    enum TacticSource {
        /// cuBLAS tactics (`kCUBLAS`, <= 10.x).
        Cublas,
        /// cuBLASLt tactics (`kCUBLAS_LT`, <= 10.x).
        CublasLt,
        /// cuDNN tactics (`kCUDNN`, <= 10.x).
        Cudnn,
        /// Convolutions with edge mask tables (`kEDGE_MASK_CONVOLUTIONS`).
        EdgeMaskConvolutions,
        /// Convolutions from source-code JIT fusion (`kJIT_CONVOLUTIONS`).
        JitConvolutions,
        /// A source the shim does not know.
        Unknown,
    }

    // `LayerDesc::output_types` (builder bridge) is a `Vec<DataType>`, the builder's format and tactic-source
    // read-backs `Vec<TensorFormat>` / `Vec<TacticSource>`; cxx instantiates `rust::Vec` only in the bridge that
    // declares the element type.
    impl Vec<DataType> {}
    impl Vec<TensorFormat> {}
    impl Vec<TacticSource> {}

    // Test helpers (header_version, roundtrip_*) are dead code outside tests.
    #[allow(dead_code)]
    #[derive(Debug, Clone)]
    struct HeaderVersion {
        major: u32,
        minor: u32,
        patch: u32,
        build: u32,
    }

    /// What the compiled headers offer (decided by `#if` in C++).
    #[derive(Debug, Clone)]
    struct ShimCapabilities {
        explicit_batch_flag: bool,
        strongly_typed_flag: bool,
        strongly_typed_always: bool,
        builder_optimization_level: bool,
        version_compatible: bool,
        hardware_compatibility: bool,
        progress_monitor: bool,
        int8_calibrator: bool,
        layer_precision: bool,
        dla: bool,
        parser_node_names: bool,
        rtx: bool,
        compute_capability_targets: bool,
        engine_validity: bool,
        runtime_cache: bool,
    }

    unsafe extern "C++" {
        include!("trt-sys/cpp/common.h");

        #[allow(dead_code)]
        fn header_version() -> HeaderVersion;
        fn capabilities() -> ShimCapabilities;
        /// Shim value -> TensorRT -> shim value; errors when the release lacks the value (enum table tests).
        #[allow(dead_code)]
        fn roundtrip_data_type(v: DataType) -> Result<DataType>;
        #[allow(dead_code)]
        fn roundtrip_tensor_format(v: TensorFormat) -> Result<TensorFormat>;
        #[allow(dead_code)]
        fn roundtrip_memory_pool(v: MemoryPool) -> Result<MemoryPool>;
        #[allow(dead_code)]
        fn roundtrip_profiling_verbosity(v: ProfilingVerbosity) -> Result<ProfilingVerbosity>;
        #[allow(dead_code)]
        fn roundtrip_device_type(v: DeviceType) -> Result<DeviceType>;
        #[allow(dead_code)]
        fn roundtrip_hardware_compatibility(
            v: HardwareCompatibility,
        ) -> Result<HardwareCompatibility>;
        #[allow(dead_code)]
        fn roundtrip_profile_selector(v: ProfileSelector) -> Result<ProfileSelector>;
        #[allow(dead_code)]
        fn roundtrip_builder_flag(v: BuilderFlag) -> Result<BuilderFlag>;
        #[allow(dead_code)]
        fn roundtrip_severity(v: Severity) -> Result<Severity>;
        #[allow(dead_code)]
        fn roundtrip_tensor_io_mode(v: TensorIoMode) -> Result<TensorIoMode>;
        fn builder_flag_available(v: BuilderFlag) -> bool;
        fn tactic_source_available(v: TacticSource) -> bool;
        #[allow(dead_code)]
        fn roundtrip_tactic_source(v: TacticSource) -> Result<TacticSource>;
        /// TensorRT-RTX's compute-capability targets as SM numbers (75, 86, ...); empty elsewhere.
        fn compute_capability_targets() -> Result<Vec<i32>>;
        /// Dims conversion check: shim dims -> nvinfer1::Dims -> shim dims (errors beyond MAX_DIMS / int32 on 8.x).
        #[allow(dead_code)]
        fn roundtrip_dims(dims: &[i64]) -> Result<Vec<i64>>;
    }
}

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

/// What the compiled headers offer; [`Error::TensorRtNotCompiled`](crate::Error::TensorRtNotCompiled) without a shim.
pub fn capabilities() -> Result<Capabilities> {
    #[cfg(not(trt_shim))]
    return Err(Error::TensorRtNotCompiled);
    #[cfg(trt_shim)]
    {
        let c = ffi::capabilities();
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
/// TensorRT; [`Error::TensorRtNotCompiled`](crate::Error::TensorRtNotCompiled) without a shim.
pub fn compute_capability_targets() -> Result<Vec<i32>> {
    #[cfg(not(trt_shim))]
    return Err(Error::TensorRtNotCompiled);
    #[cfg(trt_shim)]
    ffi::compute_capability_targets().map_err(|e| map_exception("compute_capability_targets", &e))
}

/// Whether the compiled release has `flag`; [`Error::TensorRtNotCompiled`](crate::Error::TensorRtNotCompiled) without a shim.
pub fn builder_flag_available(flag: BuilderFlag) -> Result<bool> {
    #[cfg(not(trt_shim))]
    {
        let _ = flag;
        Err(Error::TensorRtNotCompiled)
    }
    #[cfg(trt_shim)]
    Ok(ffi::builder_flag_available(flag.to_ffi()))
}

/// Whether the compiled release has tactic source `source` (cuBLAS, cuBLASLt and cuDNN are gone in 11.x);
/// [`Error::TensorRtNotCompiled`](crate::Error::TensorRtNotCompiled) without a shim.
pub fn tactic_source_available(source: TacticSource) -> Result<bool> {
    #[cfg(not(trt_shim))]
    {
        let _ = source;
        Err(Error::TensorRtNotCompiled)
    }
    #[cfg(trt_shim)]
    Ok(ffi::tactic_source_available(source.to_ffi()))
}
