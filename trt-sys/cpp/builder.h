// Builder area: IBuilder, INetworkDefinition (layer iteration, outputs), IBuilderConfig (pools, flags, DLA,
// profiling verbosity, optimization level, compatibility, timing cache, progress monitor, INT8 calibrator),
// IOptimizationProfile and ITimingCache (their serialized forms come back as ShimHostMemory, host_memory.h).
//
// Each method's comment states the ownership and failure contract taken from that release's header docs.
// Constness: the wrappers hold pointers, so `const` methods may call mutating TensorRT methods; the Rust side
// enforces exclusive access with `&mut self` where TensorRT requires it (builders, networks and configs are not
// thread-safe).
#pragma once

#include "trt-sys/cpp/host_memory.h"
#include "trt-sys/cpp/logger.h"

#include <cstdint>
#include <memory>

namespace trtshim
{
struct ProgressSink;
struct CalibratorSink;
struct LayerDesc;
struct NetworkTensorDesc;

class ShimNetwork;
class ShimConfig;
class ShimProfile;
class ShimTimingCache;

class ShimBuilder
{
public:
    ShimBuilder(nvinfer1::IBuilder* builder, ShimLogger const& logger);
    // Since TensorRT 8.0 objects are released with `delete` (destroy() is deprecated, gone in 10.x).
    std::unique_ptr<nvinfer1::IBuilder> builder;
    ShimLogger const* logger;

    // IBuilder::getNbDLACores: number of DLA cores, 0 when the platform has none. Never fails.
    std::int32_t num_dla_cores() const;
    // IBuilder::createNetworkV2: caller owns the network (delete); null on failure. 8.x gets kEXPLICIT_BATCH (implicit
    // batch is deprecated there); 10.x sets kSTRONGLY_TYPED on request; 11.x networks are always strongly typed.
    std::unique_ptr<ShimNetwork> create_network(bool strongly_typed) const;
    // IBuilder::createBuilderConfig: caller owns the config (delete); null on failure.
    std::unique_ptr<ShimConfig> create_config() const;
    // IBuilder::createOptimizationProfile: the BUILDER owns the profile and frees it with itself; never null in
    // practice (null is treated as failure anyway).
    std::unique_ptr<ShimProfile> create_profile() const;
    // IBuilder::buildSerializedNetwork: caller owns the IHostMemory (delete); null on failure (errors were logged,
    // or the progress monitor cancelled). Network and config are only read.
    std::unique_ptr<ShimHostMemory> build_serialized(ShimNetwork const& network, ShimConfig const& config) const;
};

// createInferBuilder_INTERNAL(logger, NV_TENSORRT_VERSION) through the loader's address: caller owns the builder
// (delete); null on failure; the logger must outlive it. `create_fn` 0 means the library has no builder (lean or
// dispatch runtime). An error logged during creation fails the call even when a pointer came back; that pointer is
// then leaked on purpose (its destructor may touch a CUDA context that never came up).
std::unique_ptr<ShimBuilder> new_builder(ShimLogger const& logger, std::size_t create_fn);

class ShimNetwork
{
public:
    ShimNetwork(nvinfer1::INetworkDefinition* network, ShimLogger const& logger);
    std::unique_ptr<nvinfer1::INetworkDefinition> network;
    ShimLogger const* logger;

    // INetworkDefinition::getNbLayers. Never fails.
    std::int32_t num_layers() const;
    // INetworkDefinition::getLayer: non-owning pointer (the network owns layers), null when out of range -> throws.
    LayerDesc layer(std::int32_t index) const;
    // ILayer::setPrecision (<= 10.x): a request honoured with kOBEY/kPREFER_PRECISION_CONSTRAINTS; strongly typed
    // networks reject it (logged error -> throws). 11.x removed it -> unsupported.
    void set_layer_precision(std::int32_t index, DataType data_type) const;
    // ILayer::setOutputType (<= 10.x): same rules as setPrecision; index must be < getNbOutputs().
    void set_layer_output_type(std::int32_t index, std::int32_t output, DataType data_type) const;
    // INetworkDefinition::getInput/getOutput: non-owning tensors owned by the network. Never fails.
    rust::Vec<NetworkTensorDesc> inputs() const;
    rust::Vec<NetworkTensorDesc> outputs() const;
    // INetworkDefinition::markOutput(ITensor&): void; an error logged during the call (e.g. shape tensor) -> throws.
    void mark_output(rust::Str tensor) const;
    // INetworkDefinition::unmarkOutput(ITensor&): void; same failure rule.
    void unmark_output(rust::Str tensor) const;
    // ITensor::setType on the network input or output named `tensor` (trtexec --inputIOFormats/--outputIOFormats):
    // a no-op when the tensor already has the type. Releases without ITensor::setType (11.x, TensorRT-RTX 1.5+:
    // strongly typed, the ONNX declares IO types) -> unsupported for any other type; an error logged during the call
    // (a weakly typed output whose inferred type cannot convert, say) -> throws. No such IO tensor -> throws.
    void set_io_type(rust::Str tensor, DataType data_type) const;
    // ITensor::setAllowedFormats(bitmask of `formats`) on the network input or output named `tensor` (all
    // releases). An empty list, a format the release lacks or an error logged during the call -> throws.
    void set_io_formats(rust::Str tensor, rust::Slice<TensorFormat const> formats) const;
    // ITensor::getAllowedFormats of that tensor, as the formats the shim knows (every format unless set). Never
    // fails for an IO tensor.
    rust::Vec<TensorFormat> io_formats(rust::Str tensor) const;

    // Finds a tensor by name among network inputs and layer outputs; null when absent (non-owning).
    nvinfer1::ITensor* find_tensor(std::string const& name) const;
};

class ShimConfig
{
public:
    ShimConfig(nvinfer1::IBuilderConfig* config, ShimLogger const& logger);
    ~ShimConfig();
    ShimLogger const* logger;
    // Objects the config points at but does not own; they must outlive it, so they are declared before `config`
    // (members are destroyed in reverse order).
    std::unique_ptr<nvinfer1::ITimingCache> timing_cache;
    std::shared_ptr<void> progress_monitor;
    std::shared_ptr<void> calibrator;
    std::unique_ptr<nvinfer1::IBuilderConfig> config;

    // IBuilderConfig::setMemoryPoolLimit (8.4+): void; invalid pools/sizes log an error -> throws.
    void set_memory_pool_limit(MemoryPool pool, std::uint64_t bytes) const;
    // IBuilderConfig::getMemoryPoolLimit. Never fails for a pool the release has.
    std::uint64_t memory_pool_limit(MemoryPool pool) const;
    // IBuilderConfig::setFlag/clearFlag/getFlag: flags the release lacks (FP16/INT8 on 11.x, FP8 before 8.6, ...)
    // are "unsupported" errors, never silently dropped.
    void set_flag(BuilderFlag flag, bool on) const;
    bool flag(BuilderFlag flag) const;
    // IBuilderConfig::setDLACore: void; out-of-range cores are logged at build time. setDefaultDeviceType: void.
    void set_dla_core(std::int32_t core) const;
    void set_default_device_type(DeviceType device) const;
    // IBuilderConfig::setProfilingVerbosity: void.
    void set_profiling_verbosity(ProfilingVerbosity verbosity) const;
    // IBuilderConfig::setBuilderOptimizationLevel (>= 8.6): void; level 0..5 (checked here, too).
    void set_builder_optimization_level(std::int32_t level) const;
    // IBuilderConfig::setHardwareCompatibilityLevel (>= 8.6): void.
    void set_hardware_compatibility(HardwareCompatibility level) const;
    // IBuilderConfig::addOptimizationProfile: returns the profile index, -1 when the profile is invalid -> throws.
    // The config copies what it needs; the profile stays owned by the builder.
    std::int32_t add_profile(ShimProfile const& profile) const;
    // IBuilderConfig::createTimingCache(blob, size): caller owns the cache (delete); empty blob = new empty cache;
    // null when the blob is corrupt or from another version.
    std::unique_ptr<ShimTimingCache> create_timing_cache(rust::Slice<std::uint8_t const> blob) const;
    // IBuilderConfig::setTimingCache(cache, ignoreMismatch): false on failure (e.g. device mismatch when not
    // ignored). The config only references the cache: this wrapper takes ownership to keep it alive.
    void set_timing_cache(std::unique_ptr<ShimTimingCache> cache, bool ignore_mismatch) const;
    // getTimingCache()->serialize(): caller owns the IHostMemory; throws when no cache is attached.
    std::unique_ptr<ShimHostMemory> serialize_timing_cache() const;
    // IBuilderConfig::setProgressMonitor (>= 10.0): the config references the monitor; this wrapper owns it.
    void set_progress_monitor(rust::Box<ProgressSink> sink) const;
    // IBuilderConfig::setInt8Calibrator (<= 10.x; removed in 11.x): the config references the calibrator; this
    // wrapper owns it.
    void set_int8_calibrator(rust::Box<CalibratorSink> sink, CalibrationAlgorithm algo) const;
    // IBuilderConfig::setNbComputeCapabilities + setComputeCapability(cc, i) (TensorRT-RTX only; others throw
    // "unsupported"): the GPU architectures the engine is compiled for. Values are ComputeCapability enumerators: SM
    // numbers (75, 80, 86, 89, 120, 121) or 1 for kCURRENT (the GPU present, alone). An empty list keeps the library's
    // default. A value the release does not list, or false from TensorRT -> throws.
    void set_compute_capabilities(rust::Slice<std::int32_t const> targets) const;
    // IBuilderConfig::getNbComputeCapabilities + getComputeCapability(i) (TensorRT-RTX; others: empty). Never fails.
    rust::Vec<std::int32_t> compute_capabilities() const;
    // IBuilderConfig::setTacticSources(mask of `sources`): exactly these sources are enabled afterwards. A source the
    // release lacks -> unsupported; false from TensorRT -> throws.
    void set_tactic_sources(rust::Slice<TacticSource const> sources) const;
    // IBuilderConfig::getTacticSources: the enabled sources the shim knows (the release's defaults until set).
    // Never fails.
    rust::Vec<TacticSource> tactic_sources() const;
};

class ShimProfile
{
public:
    ShimProfile(nvinfer1::IOptimizationProfile* profile, ShimLogger const& logger);
    // Not owned: IBuilder::createOptimizationProfile keeps ownership with the builder.
    nvinfer1::IOptimizationProfile* profile;
    ShimLogger const* logger;

    // IOptimizationProfile::setDimensions: false when the dims are inconsistent (e.g. min > opt) -> throws.
    void set_dimensions(rust::Str input, ProfileSelector which, rust::Slice<std::int64_t const> dims) const;
    // IOptimizationProfile::getDimensions: nbDims == -1 when not set -> throws.
    rust::Vec<std::int64_t> dimensions(rust::Str input, ProfileSelector which) const;
};

class ShimTimingCache
{
public:
    ShimTimingCache(nvinfer1::ITimingCache* cache, ShimLogger const& logger);
    std::unique_ptr<nvinfer1::ITimingCache> cache;
    ShimLogger const* logger;
    // ITimingCache::serialize: caller owns the IHostMemory (delete); null on failure.
    std::unique_ptr<ShimHostMemory> serialize() const;
};
} // namespace trtshim
