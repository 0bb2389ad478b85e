//! The cxx bridge to the C++ shim in `trt-sys/cpp/`. Compiled only with `cfg(trt_shim)` (TensorRT headers found).
//!
//! One bridge, one block per TensorRT area (logger, builder, parser, runtime), so shared enums and structs need no
//! cross-bridge aliasing. Every TensorRT enum is mapped to the shim enums below inside C++ (`cpp/common.cc`): raw
//! TensorRT integers never cross this boundary because they differ between majors. Object handles cross as
//! `UniquePtr`, CUDA pointers/streams/events and loader entry points as `usize` addresses.

#![allow(
    missing_docs,
    clippy::missing_safety_doc,
    clippy::module_inception,
    dead_code
)]

use super::callbacks::{
    calib_batch_size, calib_get_batch, calib_read_cache, calib_write_cache, log_sink_emit,
    progress_phase_finish, progress_phase_start, progress_step_complete, CalibratorSink, LogSink,
    ProgressSink,
};

#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
    // ---------------------------------------------------------------- shared enums (mapped in C++, both ways)
    #[repr(u8)]
    #[derive(Debug)]
    enum Severity {
        InternalError,
        Error,
        Warning,
        Info,
        Verbose,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum DataType {
        Float,
        Half,
        Int8,
        Int32,
        Bool,
        Uint8,
        Fp8,
        Bf16,
        Int64,
        Int4,
        Fp4,
        E8m0,
        Unknown,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum TensorIoMode {
        None,
        Input,
        Output,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum TensorFormat {
        Linear,
        Chw2,
        Hwc8,
        Chw4,
        Chw16,
        Chw32,
        Dhwc8,
        Cdhw32,
        Hwc,
        DlaLinear,
        DlaHwc4,
        Hwc16,
        Dhwc,
        Unknown,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum MemoryPool {
        Workspace,
        DlaManagedSram,
        DlaLocalDram,
        DlaGlobalDram,
        TacticDram,
        TacticSharedMemory,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum ProfilingVerbosity {
        LayerNamesOnly,
        None,
        Detailed,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum DeviceType {
        Gpu,
        Dla,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum HardwareCompatibility {
        None,
        AmperePlus,
        SameComputeCapability,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum ProfileSelector {
        Min,
        Opt,
        Max,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum BuilderFlag {
        Fp16,
        Int8,
        Bf16,
        Fp8,
        Int4,
        Tf32,
        GpuFallback,
        Refit,
        Debug,
        DisableTimingCache,
        SparseWeights,
        ObeyPrecisionConstraints,
        PreferPrecisionConstraints,
        DirectIo,
        VersionCompatible,
        ExcludeLeanRuntime,
        ErrorOnTimingCacheMiss,
        StripPlan,
        WeightStreaming,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum CalibrationAlgorithm {
        Entropy2,
        MinMax,
    }

    #[repr(u8)]
    #[derive(Debug)]
    enum ParserErrorCode {
        Success,
        InternalError,
        MemAllocFailed,
        ModelDeserializeFailed,
        InvalidValue,
        InvalidGraph,
        InvalidNode,
        UnsupportedGraph,
        UnsupportedNode,
        UnsupportedNodeAttr,
        UnsupportedNodeInput,
        UnsupportedNodeDatatype,
        UnsupportedNodeDynamic,
        UnsupportedNodeShape,
        RefitFailed,
        Unknown,
    }

    // ---------------------------------------------------------------- shared structs
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

    /// `IRuntime::getEngineValidity` (TensorRT-RTX): 0 valid, 1 suboptimal, 2 invalid; `diagnostics` is the
    /// `EngineInvalidityDiagnostics` bitmask; `checked` is false when the blob was shorter than the header (then
    /// TensorRT was not asked and `diagnostics` says malformed).
    #[derive(Debug, Clone)]
    struct EngineValidityDesc {
        validity: i32,
        diagnostics: u64,
        header_size: i64,
        checked: bool,
        /// Errors TensorRT logged during the check ("" when none).
        logged: String,
    }

    #[derive(Debug, Clone)]
    struct TensorDesc {
        name: String,
        mode: TensorIoMode,
        data_type: DataType,
        shape: Vec<i64>,
        format: TensorFormat,
        format_desc: String,
    }

    #[derive(Debug, Clone)]
    struct NetworkTensorDesc {
        name: String,
        data_type: DataType,
        shape: Vec<i64>,
    }

    #[derive(Debug, Clone)]
    struct LayerDesc {
        index: i32,
        name: String,
        kind: String,
        /// Plugin type of a plugin layer (`EfficientNMS_TRT`), empty for other layers.
        plugin: String,
        precision: DataType,
        precision_is_set: bool,
        output_names: Vec<String>,
        output_types: Vec<DataType>,
    }

    #[derive(Debug, Clone)]
    struct ParserErrorDesc {
        code: ParserErrorCode,
        description: String,
        file: String,
        line: i32,
        function: String,
        node_index: i32,
        node_name: String,
        node_operator: String,
    }

    // ---------------------------------------------------------------- Rust callbacks (never unwind: catch_unwind inside)
    extern "Rust" {
        type LogSink;
        type ProgressSink;
        type CalibratorSink;
        fn log_sink_emit(sink: &LogSink, severity: Severity, message: &[u8]);
        fn progress_phase_start(sink: &ProgressSink, phase: &[u8], parent: &[u8], steps: i32);
        fn progress_step_complete(sink: &ProgressSink, phase: &[u8], step: i32) -> bool;
        fn progress_phase_finish(sink: &ProgressSink, phase: &[u8]);
        fn calib_batch_size(sink: &CalibratorSink) -> i32;
        fn calib_get_batch(
            sink: &CalibratorSink,
            names: Vec<String>,
            bindings: &mut [usize],
        ) -> bool;
        fn calib_read_cache(sink: &CalibratorSink) -> Vec<u8>;
        fn calib_write_cache(sink: &CalibratorSink, data: &[u8]);
    }

    // ---------------------------------------------------------------- common: versions, capabilities, enum tables
    unsafe extern "C++" {
        include!("trt-sys/cpp/common.h");

        fn header_version() -> HeaderVersion;
        fn capabilities() -> ShimCapabilities;
        /// Shim value -> TensorRT -> shim value; errors when the release lacks the value (enum table tests).
        fn roundtrip_data_type(v: DataType) -> Result<DataType>;
        fn roundtrip_tensor_format(v: TensorFormat) -> Result<TensorFormat>;
        fn roundtrip_memory_pool(v: MemoryPool) -> Result<MemoryPool>;
        fn roundtrip_profiling_verbosity(v: ProfilingVerbosity) -> Result<ProfilingVerbosity>;
        fn roundtrip_device_type(v: DeviceType) -> Result<DeviceType>;
        fn roundtrip_hardware_compatibility(
            v: HardwareCompatibility,
        ) -> Result<HardwareCompatibility>;
        fn roundtrip_profile_selector(v: ProfileSelector) -> Result<ProfileSelector>;
        fn roundtrip_builder_flag(v: BuilderFlag) -> Result<BuilderFlag>;
        fn roundtrip_severity(v: Severity) -> Result<Severity>;
        fn roundtrip_tensor_io_mode(v: TensorIoMode) -> Result<TensorIoMode>;
        fn roundtrip_parser_error_code(v: ParserErrorCode) -> Result<ParserErrorCode>;
        fn builder_flag_available(v: BuilderFlag) -> bool;
        /// TensorRT-RTX's compute-capability targets as SM numbers (75, 86, ...); empty elsewhere.
        fn compute_capability_targets() -> Result<Vec<i32>>;
        /// Dims conversion check: shim dims -> nvinfer1::Dims -> shim dims (errors beyond MAX_DIMS / int32 on 8.x).
        fn roundtrip_dims(dims: &[i64]) -> Result<Vec<i64>>;
    }

    // ---------------------------------------------------------------- logger
    unsafe extern "C++" {
        include!("trt-sys/cpp/logger.h");

        type ShimLogger;
        fn new_logger(sink: Box<LogSink>, threshold: Severity) -> UniquePtr<ShimLogger>;
        fn set_threshold(self: &ShimLogger, threshold: Severity);
        fn last_errors(self: &ShimLogger) -> Result<Vec<String>>;
        fn error_count(self: &ShimLogger) -> u64;
        fn total_error_count(self: &ShimLogger) -> u64;
        /// Feeds a message through the TensorRT-facing `ILogger::log` entry (tests and the Rust side's own notes).
        fn log_for_test(self: &ShimLogger, severity: Severity, message: &str) -> Result<()>;
    }

    // ---------------------------------------------------------------- builder, network, config, profile, caches
    unsafe extern "C++" {
        include!("trt-sys/cpp/builder.h");

        type ShimBuilder;
        type ShimNetwork;
        type ShimConfig;
        type ShimProfile;
        type ShimTimingCache;
        type ShimHostMemory;

        unsafe fn new_builder(
            logger: &ShimLogger,
            create_fn: usize,
        ) -> Result<UniquePtr<ShimBuilder>>;
        fn num_dla_cores(self: &ShimBuilder) -> i32;
        fn create_network(
            self: &ShimBuilder,
            strongly_typed: bool,
        ) -> Result<UniquePtr<ShimNetwork>>;
        fn create_config(self: &ShimBuilder) -> Result<UniquePtr<ShimConfig>>;
        fn create_profile(self: &ShimBuilder) -> Result<UniquePtr<ShimProfile>>;
        fn build_serialized(
            self: &ShimBuilder,
            network: &ShimNetwork,
            config: &ShimConfig,
        ) -> Result<UniquePtr<ShimHostMemory>>;

        fn num_layers(self: &ShimNetwork) -> i32;
        fn layer(self: &ShimNetwork, index: i32) -> Result<LayerDesc>;
        fn set_layer_precision(self: &ShimNetwork, index: i32, data_type: DataType) -> Result<()>;
        fn set_layer_output_type(
            self: &ShimNetwork,
            index: i32,
            output: i32,
            data_type: DataType,
        ) -> Result<()>;
        fn inputs(self: &ShimNetwork) -> Result<Vec<NetworkTensorDesc>>;
        fn outputs(self: &ShimNetwork) -> Result<Vec<NetworkTensorDesc>>;
        fn mark_output(self: &ShimNetwork, tensor: &str) -> Result<()>;
        fn unmark_output(self: &ShimNetwork, tensor: &str) -> Result<()>;

        fn set_memory_pool_limit(self: &ShimConfig, pool: MemoryPool, bytes: u64) -> Result<()>;
        fn memory_pool_limit(self: &ShimConfig, pool: MemoryPool) -> Result<u64>;
        fn set_flag(self: &ShimConfig, flag: BuilderFlag, on: bool) -> Result<()>;
        fn flag(self: &ShimConfig, flag: BuilderFlag) -> Result<bool>;
        fn set_dla_core(self: &ShimConfig, core: i32) -> Result<()>;
        fn set_default_device_type(self: &ShimConfig, device: DeviceType) -> Result<()>;
        fn set_profiling_verbosity(self: &ShimConfig, verbosity: ProfilingVerbosity) -> Result<()>;
        fn set_builder_optimization_level(self: &ShimConfig, level: i32) -> Result<()>;
        fn set_hardware_compatibility(
            self: &ShimConfig,
            level: HardwareCompatibility,
        ) -> Result<()>;
        fn add_profile(self: &ShimConfig, profile: &ShimProfile) -> Result<i32>;
        fn create_timing_cache(
            self: &ShimConfig,
            blob: &[u8],
        ) -> Result<UniquePtr<ShimTimingCache>>;
        fn set_timing_cache(
            self: &ShimConfig,
            cache: UniquePtr<ShimTimingCache>,
            ignore_mismatch: bool,
        ) -> Result<()>;
        fn serialize_timing_cache(self: &ShimConfig) -> Result<UniquePtr<ShimHostMemory>>;
        fn set_progress_monitor(self: &ShimConfig, sink: Box<ProgressSink>) -> Result<()>;
        fn set_int8_calibrator(
            self: &ShimConfig,
            sink: Box<CalibratorSink>,
            algo: CalibrationAlgorithm,
        ) -> Result<()>;
        fn set_compute_capabilities(self: &ShimConfig, targets: &[i32]) -> Result<()>;
        fn compute_capabilities(self: &ShimConfig) -> Result<Vec<i32>>;

        fn set_dimensions(
            self: &ShimProfile,
            input: &str,
            which: ProfileSelector,
            dims: &[i64],
        ) -> Result<()>;
        fn dimensions(self: &ShimProfile, input: &str, which: ProfileSelector) -> Result<Vec<i64>>;

        fn serialize(self: &ShimTimingCache) -> Result<UniquePtr<ShimHostMemory>>;

        fn bytes(self: &ShimHostMemory) -> &[u8];
    }

    // ---------------------------------------------------------------- ONNX parser
    unsafe extern "C++" {
        include!("trt-sys/cpp/parser.h");

        type ShimParser;
        unsafe fn new_parser(
            network: &ShimNetwork,
            logger: &ShimLogger,
            create_fn: usize,
        ) -> Result<UniquePtr<ShimParser>>;
        fn parse(self: &ShimParser, model: &[u8], model_path: &str) -> bool;
        fn errors(self: &ShimParser) -> Result<Vec<ParserErrorDesc>>;
        fn clear_errors(self: &ShimParser);
        fn supports_operator(self: &ShimParser, op: &str) -> bool;
    }

    // ---------------------------------------------------------------- runtime, engine, inspector, context, plugins
    unsafe extern "C++" {
        include!("trt-sys/cpp/runtime.h");

        type ShimRuntime;
        type ShimEngine;
        type ShimContext;

        unsafe fn init_plugins(logger: &ShimLogger, init_fn: usize, namespace_: &str)
            -> Result<()>;
        unsafe fn plugin_registry_load_library(
            logger: &ShimLogger,
            registry_fn: usize,
            path: &str,
        ) -> Result<()>;
        unsafe fn new_runtime(
            logger: &ShimLogger,
            create_fn: usize,
        ) -> Result<UniquePtr<ShimRuntime>>;
        fn deserialize(self: &ShimRuntime, blob: &[u8]) -> Result<UniquePtr<ShimEngine>>;
        fn engine_validity(self: &ShimRuntime, blob: &[u8]) -> Result<EngineValidityDesc>;

        fn num_io_tensors(self: &ShimEngine) -> i32;
        fn io_tensor(self: &ShimEngine, index: i32) -> Result<TensorDesc>;
        fn num_profiles(self: &ShimEngine) -> i32;
        fn profile_shape(
            self: &ShimEngine,
            tensor: &str,
            profile: i32,
            which: ProfileSelector,
        ) -> Result<Vec<i64>>;
        fn device_memory_size(self: &ShimEngine) -> i64;
        fn num_layers(self: &ShimEngine) -> i32;
        fn layer_info_json(self: &ShimEngine) -> Result<String>;
        fn serialize(self: &ShimEngine) -> Result<UniquePtr<ShimHostMemory>>;
        fn create_context(self: &ShimEngine) -> Result<UniquePtr<ShimContext>>;
        fn enable_runtime_cache(self: &ShimEngine, blob: &[u8]) -> Result<bool>;
        fn serialize_runtime_cache(self: &ShimEngine) -> Result<UniquePtr<ShimHostMemory>>;

        fn set_input_shape(self: &ShimContext, tensor: &str, dims: &[i64]) -> Result<()>;
        fn tensor_shape(self: &ShimContext, tensor: &str) -> Result<Vec<i64>>;
        fn all_input_dimensions_specified(self: &ShimContext) -> bool;
        fn set_optimization_profile_async(
            self: &ShimContext,
            profile: i32,
            stream: usize,
        ) -> Result<()>;
        unsafe fn set_tensor_address(
            self: &ShimContext,
            tensor: &str,
            address: usize,
        ) -> Result<()>;
        unsafe fn set_input_consumed_event(self: &ShimContext, event: usize) -> Result<()>;
        unsafe fn enqueue_v3(self: &ShimContext, stream: usize) -> Result<()>;
    }
}
