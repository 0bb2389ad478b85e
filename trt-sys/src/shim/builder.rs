//! Building engines (`cpp/builder.{h,cc}`): `IBuilder`, `INetworkDefinition`, `IBuilderConfig` (with the progress
//! monitor and INT8 calibrator callbacks), `IOptimizationProfile` and `ITimingCache`.
//!
//! Builder-side handles are neither Send nor Sync: TensorRT's builder objects must not be used from two threads at
//! once, and a network, config or profile shares state with its builder. Create and use them on one thread.

#[cfg(trt_shim)]
use std::sync::Arc;

#[cfg(not(trt_shim))]
use super::Never;
use super::{
    BuilderFlag, CalibrationAlgorithm, DataType, DeviceType, HardwareCompatibility, HostMemory,
    Logger, MemoryPool, ProfileSelector, ProfilingVerbosity, TacticSource, TensorFormat,
};
#[cfg(not(trt_shim))]
use crate::error::Error;
use crate::error::Result;

#[cfg(trt_shim)]
use super::callbacks::{
    calib_batch_size, calib_get_batch, calib_read_cache, calib_write_cache, progress_phase_finish,
    progress_phase_start, progress_step_complete, CalibratorSink, PanicSlot, ProgressSink,
};
#[cfg(trt_shim)]
use super::{prepare_factory, FactoryUse, Native};

#[cfg(trt_shim)]
#[cxx::bridge(namespace = "trtshim")]
pub(crate) mod ffi {
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

    // Rust callbacks (never unwind: catch_unwind inside).
    extern "Rust" {
        type ProgressSink;
        type CalibratorSink;
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

    unsafe extern "C++" {
        include!("trt-sys/cpp/builder.h");
        include!("trt-sys/src/shim/common.rs.h");

        type BuilderFlag = crate::shim::common::ffi::BuilderFlag;
        type CalibrationAlgorithm = crate::shim::common::ffi::CalibrationAlgorithm;
        type DataType = crate::shim::common::ffi::DataType;
        type DeviceType = crate::shim::common::ffi::DeviceType;
        type HardwareCompatibility = crate::shim::common::ffi::HardwareCompatibility;
        type MemoryPool = crate::shim::common::ffi::MemoryPool;
        type ProfileSelector = crate::shim::common::ffi::ProfileSelector;
        type ProfilingVerbosity = crate::shim::common::ffi::ProfilingVerbosity;
        type TacticSource = crate::shim::common::ffi::TacticSource;
        type TensorFormat = crate::shim::common::ffi::TensorFormat;
        type ShimLogger = crate::shim::logger::ffi::ShimLogger;
        type ShimHostMemory = crate::shim::host_memory::ffi::ShimHostMemory;

        type ShimBuilder;
        type ShimNetwork;
        type ShimConfig;
        type ShimProfile;
        type ShimTimingCache;

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
        fn set_io_type(self: &ShimNetwork, tensor: &str, data_type: DataType) -> Result<()>;
        fn set_io_formats(self: &ShimNetwork, tensor: &str, formats: &[TensorFormat])
            -> Result<()>;
        fn io_formats(self: &ShimNetwork, tensor: &str) -> Result<Vec<TensorFormat>>;

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
        fn set_tactic_sources(self: &ShimConfig, sources: &[TacticSource]) -> Result<()>;
        fn tactic_sources(self: &ShimConfig) -> Result<Vec<TacticSource>>;

        fn set_dimensions(
            self: &ShimProfile,
            input: &str,
            which: ProfileSelector,
            dims: &[i64],
        ) -> Result<()>;
        fn dimensions(self: &ShimProfile, input: &str, which: ProfileSelector) -> Result<Vec<i64>>;

        fn serialize(self: &ShimTimingCache) -> Result<UniquePtr<ShimHostMemory>>;
    }
}

/// `ComputeCapability::kCURRENT` for [`BuilderConfig::set_compute_capabilities`]: the GPU present (needs one).
pub const COMPUTE_CAPABILITY_CURRENT: i32 = 1;

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

#[cfg(trt_shim)]
struct BuilderInner {
    ptr: cxx::UniquePtr<ffi::ShimBuilder>,
    logger: Logger,
}

/// `IBuilder`: builds serialized engines. Needs the full libnvinfer (not lean/dispatch).
pub struct Builder {
    #[cfg(trt_shim)]
    inner: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

handle!(Builder => ffi::ShimBuilder, |s| &s.inner.ptr);

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
            let r = unsafe { ffi::new_builder(logger.shim(), addr) };
            let ptr = logger.finish("createInferBuilder", r)?;
            Ok(Builder {
                inner: std::rc::Rc::new(BuilderInner {
                    ptr,
                    logger: logger.clone(),
                }),
            })
        }
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

/// `INetworkDefinition`: the network being built (filled by a [`Parser`](super::Parser)).
pub struct Network {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<ffi::ShimNetwork>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    pub(super) never: Never,
}

handle!(Network => ffi::ShimNetwork, |s| &s.ptr);

impl Network {
    /// The logger of the builder this network belongs to.
    #[cfg(trt_shim)]
    pub(super) fn logger(&self) -> &Logger {
        &self.builder.logger
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
                precision: DataType::from_ffi(d.precision).unwrap_or(DataType::Unknown),
                precision_is_set: d.precision_is_set,
                output_names: d.output_names,
                output_types: d
                    .output_types
                    .into_iter()
                    .map(|t| DataType::from_ffi(t).unwrap_or(DataType::Unknown))
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
    fn tensors(v: Vec<ffi::NetworkTensorDesc>) -> Vec<NetworkTensorDesc> {
        v.into_iter()
            .map(|t| NetworkTensorDesc {
                name: t.name,
                data_type: DataType::from_ffi(t.data_type).unwrap_or(DataType::Unknown),
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

impl Network {
    /// Sets the element type of the network input or output named `tensor` (`ITensor::setType`, trtexec's
    /// `--inputIOFormats`/`--outputIOFormats` type). A no-op when the tensor already has that type. Releases without
    /// `setType` (11.x, TensorRT-RTX 1.5+: strongly typed, the ONNX declares IO types) return
    /// [`Error::Unsupported`](crate::Error::Unsupported) for any other type.
    pub fn set_io_type(&mut self, tensor: &str, data_type: DataType) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (tensor, data_type);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().set_io_type(tensor, data_type.to_ffi());
            self.finish("ITensor::setType", r)
        }
    }

    /// Restricts the network input or output named `tensor` to `formats` (`ITensor::setAllowedFormats`).
    pub fn set_io_formats(&mut self, tensor: &str, formats: &[TensorFormat]) -> Result<()> {
        #[cfg(not(trt_shim))]
        {
            let _ = (tensor, formats);
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let f: Vec<_> = formats.iter().map(|f| f.to_ffi()).collect();
            let r = self.shim().set_io_formats(tensor, &f);
            self.finish("ITensor::setAllowedFormats", r)
        }
    }

    /// The formats the network input or output named `tensor` may take (`ITensor::getAllowedFormats`; every format
    /// the release has until restricted).
    pub fn io_formats(&self, tensor: &str) -> Result<Vec<TensorFormat>> {
        #[cfg(not(trt_shim))]
        {
            let _ = tensor;
            match self.never {}
        }
        #[cfg(trt_shim)]
        {
            let r = self.shim().io_formats(tensor);
            Ok(self
                .finish("ITensor::getAllowedFormats", r)?
                .into_iter()
                .filter_map(TensorFormat::from_ffi)
                .collect())
        }
    }
}

/// `IBuilderConfig`.
pub struct BuilderConfig {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<ffi::ShimConfig>,
    #[cfg(trt_shim)]
    panics: Vec<Arc<PanicSlot>>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

handle!(BuilderConfig => ffi::ShimConfig, |s| &s.ptr);

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

    /// Enables exactly `sources` (`IBuilderConfig::setTacticSources`); start from [`BuilderConfig::tactic_sources`]
    /// to change the release's defaults. A source the compiled release lacks is an
    /// [`Error::Unsupported`](crate::Error::Unsupported) (see [`tactic_source_available`](crate::shim::tactic_source_available)).
    pub fn set_tactic_sources(&mut self, sources: &[TacticSource]) -> Result<()> {
        let _ = sources;
        config_call!(self, "IBuilderConfig::setTacticSources", |s| {
            let f: Vec<_> = sources.iter().map(|t| t.to_ffi()).collect();
            s.set_tactic_sources(&f)
        })
    }

    /// The enabled tactic sources (`IBuilderConfig::getTacticSources`: the release's defaults until set).
    pub fn tactic_sources(&self) -> Result<Vec<TacticSource>> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().tactic_sources();
            Ok(self
                .builder
                .logger
                .finish("IBuilderConfig::getTacticSources", r)?
                .into_iter()
                .filter_map(TacticSource::from_ffi)
                .collect())
        }
    }
}

/// `IOptimizationProfile` (owned by its builder, which this handle keeps alive).
pub struct OptimizationProfile {
    #[cfg(trt_shim)]
    ptr: cxx::UniquePtr<ffi::ShimProfile>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

handle!(OptimizationProfile => ffi::ShimProfile, |s| &s.ptr);

impl OptimizationProfile {
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
    ptr: cxx::UniquePtr<ffi::ShimTimingCache>,
    #[cfg(trt_shim)]
    builder: std::rc::Rc<BuilderInner>,
    #[cfg(not(trt_shim))]
    never: Never,
}

handle!(TimingCache => ffi::ShimTimingCache, |s| &s.ptr);

impl TimingCache {
    /// Serializes the cache.
    pub fn serialize(&self) -> Result<HostMemory> {
        #[cfg(not(trt_shim))]
        match self.never {}
        #[cfg(trt_shim)]
        {
            let r = self.shim().serialize();
            Ok(HostMemory {
                ptr: self.builder.logger.finish("ITimingCache::serialize", r)?,
            })
        }
    }
}
