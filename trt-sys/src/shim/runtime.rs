//! Running engines (`cpp/runtime.{h,cc}`): `IRuntime`, `ICudaEngine`, `IEngineInspector`, `IExecutionContext`,
//! and registering plugins.

use std::ffi::c_void;
use std::path::Path;
#[cfg(trt_shim)]
use std::sync::Arc;

#[cfg(not(trt_shim))]
use super::Never;
use super::{DataType, HostMemory, Logger, ProfileSelector, TensorFormat, TensorIoMode};
use crate::cuda::{cudaEvent_t, cudaStream_t};
use crate::error::{Error, Result};

#[cfg(trt_shim)]
use super::{check_compiled, compiled_version, prepare_factory, FactoryUse, Native};

#[cfg(trt_shim)]
#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
    #[derive(Debug, Clone)]
    struct TensorDesc {
        name: String,
        mode: TensorIoMode,
        data_type: DataType,
        shape: Vec<i64>,
        format: TensorFormat,
        format_desc: String,
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

    /// One layer's times as the context's profiler collected them (`ShimProfiler`).
    #[derive(Debug, Clone)]
    struct LayerTimeDesc {
        name: String,
        times_ms: Vec<f32>,
    }

    /// Everything the context's profiler collected.
    #[derive(Debug, Clone)]
    struct LayerTimesDesc {
        layers: Vec<LayerTimeDesc>,
        reports: u64,
        dropped: u64,
    }

    unsafe extern "C++" {
        include!("trt-sys/cpp/runtime.h");
        include!("trt-sys/src/shim/common.rs.h");

        type DataType = crate::shim::common::ffi::DataType;
        type ProfileSelector = crate::shim::common::ffi::ProfileSelector;
        type TensorFormat = crate::shim::common::ffi::TensorFormat;
        type TensorIoMode = crate::shim::common::ffi::TensorIoMode;
        type ShimLogger = crate::shim::logger::ffi::ShimLogger;
        type ShimHostMemory = crate::shim::host_memory::ffi::ShimHostMemory;

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
        fn enable_profiler(self: &ShimContext);
        fn report_to_profiler(self: &ShimContext) -> Result<()>;
        fn layer_times(self: &ShimContext) -> LayerTimesDesc;
        fn reset_layer_times(self: &ShimContext);
    }
}

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

/// Per-layer GPU times collected by an execution context's profiler ([`ExecutionContext::enable_profiler`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerTimes {
    /// Every layer TensorRT reported, in the order it was first reported (execution order).
    pub layers: Vec<LayerTime>,
    /// How many times [`ExecutionContext::report_to_profiler`] delivered times (one per profiled inference).
    pub reports: u64,
    /// Times the profiler could not store (allocation failure); 0 in practice.
    pub dropped: u64,
}

/// One layer's times, as TensorRT's `IProfiler::reportLayerTime` reported them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerTime {
    /// The layer name TensorRT reports (the engine inspector's name; a decimal index for engines built with
    /// profiling verbosity `none`).
    pub name: String,
    /// Every reported time, milliseconds, in report order.
    pub times_ms: Vec<f32>,
}

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
        let r = unsafe { ffi::init_plugins(logger.shim(), addr, namespace) };
        keep_for_process(logger);
        logger.finish("initLibNvInferPlugins", r)
    }
}

/// Loggers handed to `initLibNvInferPlugins`. The plugin library stores the pointer in a global and logs through it
/// for the rest of the process, so each logger it was given must outlive every `Library`: they are kept here (one
/// per initialization; each a few hundred bytes) and never dropped.
pub(super) static PLUGIN_LOGGERS: std::sync::Mutex<Vec<Logger>> = std::sync::Mutex::new(Vec::new());

#[cfg(trt_shim)]
pub(super) fn keep_for_process(logger: &Logger) {
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
            unsafe { ffi::plugin_registry_load_library(logger.shim(), registry as usize, file) };
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
    ptr: cxx::UniquePtr<ffi::ShimRuntime>,
    logger: Logger,
}

// SAFETY: TensorRT's developer guide (Thread Safety): "the runtime can be used by multiple threads simultaneously"
// — IRuntime::deserializeCudaEngine may be called concurrently. Deleting it happens once, from the last Arc.
#[cfg(trt_shim)]
unsafe impl Send for RuntimeInner {}
// SAFETY: see Send.
#[cfg(trt_shim)]
unsafe impl Sync for RuntimeInner {}

handle!(Runtime => ffi::ShimRuntime, |s| &s.inner.ptr);

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
        let r = unsafe { ffi::new_runtime(logger.shim(), addr) };
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
            let shim = self.shim();
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
            let shim = self.shim();
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
    ptr: cxx::UniquePtr<ffi::ShimEngine>,
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

handle!(Engine => ffi::ShimEngine, |s| &s.inner.ptr);

impl Engine {
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
                    mode: TensorIoMode::from_ffi(d.mode).unwrap_or(TensorIoMode::None),
                    data_type: DataType::from_ffi(d.data_type).unwrap_or(DataType::Unknown),
                    shape: d.shape,
                    format: TensorFormat::from_ffi(d.format).unwrap_or(TensorFormat::Unknown),
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
        usize::try_from(self.shim().num_layers()).unwrap_or(0)
    }

    /// Layer information as JSON (`IEngineInspector`); detailed only for engines built with
    /// [`ProfilingVerbosity::Detailed`](super::ProfilingVerbosity::Detailed).
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

/// `IExecutionContext`: per-inference state. `Send` but not `Sync`: TensorRT allows one thread at a time.
pub struct ExecutionContext {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<ffi::ShimContext>,
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

handle!(ExecutionContext => ffi::ShimContext, |s| &s.ptr);

impl ExecutionContext {
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

    /// Attaches this context's own profiler (`IExecutionContext::setProfiler`) and turns off the profile an
    /// enqueue would emit by itself (`setEnqueueEmitsProfile(false)`): from now on every `enqueueV3` records
    /// per-layer timers, and [`ExecutionContext::report_to_profiler`] collects them. Profiling slows inference; keep
    /// it out of timed runs.
    pub fn enable_profiler(&mut self) {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().enable_profiler()
    }

    /// `IExecutionContext::reportToProfiler`: collects the layer times of the previous `enqueueV3`. Call it once per
    /// enqueue, after that enqueue's stream is synchronized and before the next enqueue. Fails when profiling is not
    /// enabled or TensorRT cannot report.
    pub fn report_to_profiler(&mut self) -> Result<()> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().report_to_profiler();
            self.engine
                .inner
                .logger
                .finish("IExecutionContext::reportToProfiler", r)
        }
    }

    /// The layer times collected so far (empty before the first report).
    pub fn layer_times(&self) -> LayerTimes {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let d = self.shim().layer_times();
            LayerTimes {
                layers: d
                    .layers
                    .into_iter()
                    .map(|l| LayerTime {
                        name: l.name,
                        times_ms: l.times_ms,
                    })
                    .collect(),
                reports: d.reports,
                dropped: d.dropped,
            }
        }
    }

    /// Forgets the layer times collected so far (profiling stays on).
    pub fn reset_layer_times(&mut self) {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        self.shim().reset_layer_times()
    }
}
